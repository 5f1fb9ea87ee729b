"""Where a service keeps jobs' data keys wrapped by a key-encryption key (bpo_common.crypto),
and what every such service does with them: after a KEK rotation, wrap again by the current
KEK the keys an older one wraps, a batch at a time; at start, refuse a key ring that cannot
unwrap the keys kept. A service names its table's columns (`WrappedKeys`) and registers
`rewrap_loop` among its loops and `start_check` among its start-up checks.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bpo_common.crypto import KeyRing, KeyUnavailable, SealBroken, check_ring, rewrap
from bpo_common.loops import keep_running, pause
from bpo_common.settings import KeyedSettings

if TYPE_CHECKING:  # the composition root registers these; this module does not import it
    from bpo_common.service import Loop, Runtime, StartupCheck

log = structlog.get_logger(__name__)

REWRAP_BATCH = 500
# How often a service looks again for keys an older KEK wraps, once none is left.
REWRAP_CHECK_S = 60.0


def _wrapped_by(wrapped: Any) -> Any:
    """The id of the KEK that wraps a kept data key (`dek:v1:<KEK id>:...`)."""
    return func.split_part(wrapped, ":", 3)


@dataclass(frozen=True, eq=False)
class WrappedKeys:
    """A table's column of jobs' ids and its column of their wrapped data keys (NULL: none)."""

    job_id: InstrumentedAttribute[UUID]
    wrapped: InstrumentedAttribute[Any]

    async def to_rewrap(
        self, session: AsyncSession, current_kek: str, after: UUID | None
    ) -> list[tuple[UUID, str]]:
        """Up to REWRAP_BATCH keys another KEK than the current one wraps, of the jobs after
        `after` in id order, locked (those another process holds skipped)."""
        query = (
            select(self.job_id, self.wrapped)
            .where(self.wrapped.is_not(None), _wrapped_by(self.wrapped) != current_kek)
            .order_by(self.job_id)
            .limit(REWRAP_BATCH)
            .with_for_update(skip_locked=True)
        )
        if after is not None:
            query = query.where(self.job_id > after)
        return [(job_id, wrapped) for job_id, wrapped in await session.execute(query)]

    async def store(self, session: AsyncSession, wrapped: Mapping[UUID, str]) -> None:
        """Keep each job's key as wrapped again."""
        for job_id, key in wrapped.items():
            await session.execute(
                update(self.job_id.class_).where(self.job_id == job_id).values({self.wrapped: key})
            )

    async def one_per_kek(self, session: AsyncSession) -> dict[UUID, str]:
        """One job's wrapped key for each KEK that wraps any (the newest job's)."""
        kek = _wrapped_by(self.wrapped)
        query = (
            select(self.job_id, self.wrapped)
            .where(self.wrapped.is_not(None))
            .ext(distinct_on(kek))
            .order_by(kek, self.job_id.desc())
        )
        return {job_id: wrapped for job_id, wrapped in await session.execute(query)}

    async def rewrap(
        self, session: AsyncSession, ring: KeyRing, after: UUID | None = None
    ) -> UUID | None:
        """Wrap by the current KEK a batch of the keys an older one wraps (of the jobs after
        `after`): the last job of a full batch, after which the next batch starts; None once
        the pass is through. The values they seal stay as they are. A key the ring cannot
        unwrap stays as it was, logged, and the pass goes on past it."""
        due = await self.to_rewrap(session, ring.current_key_id, after)
        again: dict[UUID, str] = {}
        for job_id, wrapped in due:
            try:
                key = rewrap(ring, job_id, wrapped)
            except (KeyUnavailable, SealBroken) as exc:
                log.error("a data key was not wrapped again", job_id=str(job_id), error=str(exc))
                continue
            if key:
                again[job_id] = key
        await self.store(session, again)
        return due[-1][0] if len(due) == REWRAP_BATCH else None

    async def check(self, session: AsyncSession, ring: KeyRing) -> None:
        """Refuse to start with a key ring that cannot unwrap the keys kept here."""
        check_ring(ring, await self.one_per_kek(session))

    def rewrap_loop(self) -> "Loop":
        """The background loop: a batch at a time while full ones come, then every
        REWRAP_CHECK_S (after a KEK rotation: until none is left)."""

        async def rewrap_data_keys(runtime: "Runtime") -> None:
            ring = runtime.settings_as(KeyedSettings).key_ring()

            after: UUID | None = None

            async def a_batch() -> bool:
                nonlocal after
                async with runtime.sessions() as session, session.begin():
                    done_to = await self.rewrap(session, ring, after)
                after = done_to  # once committed: a batch that failed is done again
                return after is not None

            await keep_running("data key rewrap", a_batch, pause(REWRAP_CHECK_S))

        return rewrap_data_keys

    def start_check(self) -> "StartupCheck":
        """The start-up check: the KEKs given unwrap the keys kept, or the service does not
        start."""

        async def check_data_keys(runtime: "Runtime") -> None:
            ring = runtime.settings_as(KeyedSettings).key_ring()
            async with runtime.sessions() as session:
                await self.check(session, ring)

        return check_data_keys
