"""The data keys of the jobs validation gets values of (bpo_common.crypto).

Every value validation gets travels sealed with its job's data key; it opens them in memory
only, where it compares, checks and decides: two keyings, a keying and the golden answer or
the client's values, the lookups of reference data, the invoice it matches. What it keeps, it
keeps with the personal values sealed again (entries, decisions and their comparisons, match
exceptions); what it tells others, it seals whole. Its API opens personal values for a reader
who may see them and masks them for anyone else.

A job's key is asked of intake once, over core NATS request and reply (never the stream), and
arrives wrapped by the key-encryption key both services hold: validation keeps it wrapped in
its own database, and each process keeps it unwrapped once it used it.
"""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

import nats.errors
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DATA_KEYS_SUBJECT, DataKeysReply, DataKeysRequest
from bpo_common.crypto import DataKey, DataKeys, KeyUnavailable
from bpo_common.erasure import erased_of
from bpo_validation.repository import keys as repository

ASK_TIMEOUT_S = 5.0


# Asks for jobs' data keys: each job's, wrapped (a job the answer leaves out has none).
Ask = Callable[[list[UUID]], Awaitable[dict[UUID, str]]]


@dataclass(frozen=True)
class JobKeys:
    """Jobs' data keys: kept by the process, else kept here, else asked for (`ask`: of
    intake, `asking_intake`; none: not asked)."""

    keys: DataKeys
    ask: Ask | None = None

    async def of_jobs(self, session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, DataKey]:
        """Each job's data key; KeyUnavailable when one is not to be had (yet): the caller's
        work is tried again later."""
        wanted = set(job_ids)
        found = {job_id: key for job_id in wanted if (key := self.keys.cached(job_id))}
        missing = wanted - set(found)
        if missing:
            kept = await repository.wrapped_keys(session, missing)
            asked = sorted(missing - set(kept))
            given = await self.ask(asked) if asked and self.ask is not None else {}
            await repository.add_keys(session, given, utcnow())
            found |= {job_id: self.keys.of(job_id, w) for job_id, w in (kept | given).items()}
        lacking = wanted - set(found)
        if lacking:
            raise KeyUnavailable(f"no data key was given for job {min(lacking)}")
        return found

    async def of_job(self, session: AsyncSession, job_id: UUID) -> DataKey:
        return (await self.of_jobs(session, [job_id]))[job_id]

    async def to_read(self, session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, DataKey]:
        """The data keys of these jobs to show their values with: none for a job erased whole,
        whose key is gone (what is left of it, ids, outcomes and times, is shown with its
        personal values masked)."""
        wanted = set(job_ids)
        erased = await erased_of(session, wanted)
        return await self.of_jobs(session, wanted - erased.jobs)


def asking_intake(connection: NATS, timeout_s: float = ASK_TIMEOUT_S) -> Ask:
    """Ask intake, over core NATS request and reply."""

    async def ask(job_ids: list[UUID]) -> dict[UUID, str]:
        request = DataKeysRequest(job_ids=job_ids).model_dump_json().encode()
        try:
            reply = await connection.request(DATA_KEYS_SUBJECT, request, timeout=timeout_s)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise KeyUnavailable(
                f"intake did not answer for the data keys of {len(job_ids)} job(s)"
            ) from exc
        return DataKeysReply.model_validate_json(reply.data).keys

    return ask
