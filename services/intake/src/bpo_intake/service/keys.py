"""Jobs' data keys (bpo_common.crypto): a job's is made with it and kept on it, wrapped by the
key-encryption key, and unwrapped once per process. Validation asks for the keys of the jobs
it gets values of (`answer`, over core NATS) and gets them wrapped: the key never travels in
clear, nor on the stream.

A job made before jobs had keys gets one the first time one is needed, in the transaction
that needs it: kept by the process only once it is stored for good, so that a rollback leaves
no key in use that the database does not hold.
"""

from collections.abc import Mapping
from uuid import UUID

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.intake import DataKeysReply, DataKeysRequest
from bpo_common.crypto import DataKey, DataKeys, KeyRing, open_data_key
from bpo_common.crypto import new_data_key as make_data_key
from bpo_common.db import SessionFactory
from bpo_common.errors import NotFound
from bpo_intake.repository import jobs as repository

log = structlog.get_logger(__name__)


def new_data_key(keys: DataKeys, job_id: UUID) -> str:
    """A new job's data key, kept by the process; its wrapped form, to store on the job."""
    return keys.new(job_id)[1]


async def keys_of_jobs(
    session: AsyncSession, keys: DataKeys, wrapped: Mapping[UUID, str | None]
) -> dict[UUID, DataKey]:
    """Each job's data key, from its wrapped form as read with the job (None: it has none yet,
    and gets one now; or its data was erased, NotFound, whatever key this process kept)."""
    found = {}
    for job_id, stored in wrapped.items():
        if stored is None:
            keys.forget(job_id)
            found[job_id] = await _given(session, keys, job_id)
        else:
            found[job_id] = keys.cached(job_id) or keys.of(job_id, stored)
    return found


async def keys_to_read(
    session: AsyncSession, keys: DataKeys, wrapped: Mapping[UUID, str | None]
) -> dict[UUID, DataKey]:
    """Each job's data key, to show its values: none for a job whose data was erased (what is
    left of it, ids, statuses and times, is shown with its personal values masked)."""
    found: dict[UUID, DataKey] = {}
    for job_id, stored in wrapped.items():
        try:
            found |= await keys_of_jobs(session, keys, {job_id: stored})
        except NotFound:
            continue
    return found


async def key_of_job(
    session: AsyncSession, keys: DataKeys, job_id: UUID, wrapped: str | None
) -> DataKey:
    return (await keys_of_jobs(session, keys, {job_id: wrapped}))[job_id]


async def _given(session: AsyncSession, keys: DataKeys, job_id: UUID) -> DataKey:
    """A key for a job made before jobs had keys, stored on it in the caller's transaction
    (or the key another transaction gave it meanwhile); not kept until it is read back
    committed."""
    stored = await _give(session, keys.ring, job_id)
    if stored is None:
        raise NotFound(f"no job {job_id}, or its data was erased")
    return open_data_key(keys.ring, job_id, stored)


async def _give(session: AsyncSession, ring: KeyRing, job_id: UUID) -> str | None:
    _, wrapped = make_data_key(ring, job_id)
    return await repository.give_data_key(session, job_id, wrapped)


async def answer(sessions: SessionFactory, ring: KeyRing, request: bytes) -> bytes:
    """The reply to validation's request for jobs' data keys: each job's, wrapped."""
    try:
        asked = DataKeysRequest.model_validate_json(request)
    except ValidationError:
        log.warning("data key request not understood")
        return DataKeysReply(keys={}).model_dump_json().encode()
    async with sessions() as session, session.begin():
        stored = await repository.data_keys_of(session, asked.job_ids)
        for job_id, wrapped in stored.items():
            stored[job_id] = wrapped or await _give(session, ring, job_id)
    given = {job_id: wrapped for job_id, wrapped in stored.items() if wrapped is not None}
    return DataKeysReply(keys=given).model_dump_json().encode()
