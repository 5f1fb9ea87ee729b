"""Answering intake's DataErased: a service records what it erased in its `erasure_record`
(bpo_common.tables) and tells intake with its ErasureDone, in the transaction of the erasure
itself (the consumer's), so that intake shows it erased only once it is. A service that keeps
values reads its records back to keep none of what arrives after its erasure."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.erasure import ErasureDone
from bpo_common.contracts.intake import DataErased
from bpo_common.db import among
from bpo_common.outbox import publish
from bpo_common.tables import erasure_record


async def record_erased(
    session: AsyncSession,
    event: DataErased,
    done: type[ErasureDone],
    now: datetime | None = None,
) -> None:
    """Record that the service erased what `event` asked for, and announce it as `done`."""
    now = now or utcnow()
    item_ids = None if event.item_ids is None else [str(i) for i in event.item_ids]
    await session.execute(
        insert(erasure_record)
        .values(erasure_id=event.erasure_id, job_id=event.job_id, item_ids=item_ids, erased_at=now)
        .on_conflict_do_nothing()
    )
    service = done.event_type.split(".")[1]
    answer = done.model_validate(
        {
            "erasure_id": event.erasure_id,
            "service": service,
            "job_id": event.job_id,
            "item_ids": event.item_ids,
            "erased_at": now,
        }
    )
    await publish(session, answer, client_id=event.client_id)


@dataclass(frozen=True)
class Erased:
    """What the service erased of some jobs: the jobs erased whole, the items erased alone."""

    jobs: frozenset[UUID]
    items: frozenset[UUID]

    def holds(self, job_id: UUID, item_id: UUID) -> bool:
        return job_id in self.jobs or item_id in self.items


async def erased_of(session: AsyncSession, job_ids: Iterable[UUID]) -> Erased:
    """What the service erased of these jobs."""
    query = select(erasure_record.c.job_id, erasure_record.c.item_ids).where(
        among(erasure_record.c.job_id, set(job_ids))
    )
    rows = (await session.execute(query)).all()
    return Erased(
        jobs=frozenset(job_id for job_id, item_ids in rows if item_ids is None),
        items=frozenset(UUID(i) for _, item_ids in rows for i in item_ids or ()),
    )
