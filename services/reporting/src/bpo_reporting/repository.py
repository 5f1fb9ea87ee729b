"""Every query of the reporting service."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_reporting.models import HourlyRollup, ItemFact, JobFact


async def add_job(session: AsyncSession, job: JobFact) -> None:
    session.add(job)


async def add_items(session: AsyncSession, items: Sequence[ItemFact]) -> None:
    session.add_all(items)


async def add_to_rollup(
    session: AsyncSession, client_id: UUID, work_type: str, hour: datetime, items_received: int
) -> None:
    statement = insert(HourlyRollup).values(
        client_id=client_id, work_type=work_type, hour=hour, items_received=items_received
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[HourlyRollup.client_id, HourlyRollup.work_type, HourlyRollup.hour],
            set_={"items_received": HourlyRollup.items_received + excluded.items_received},
        )
    )


async def sum_items_received(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None
) -> int:
    query = select(func.coalesce(func.sum(HourlyRollup.items_received), 0)).where(
        HourlyRollup.hour >= start, HourlyRollup.hour < end
    )
    if client_id is not None:
        query = query.where(HourlyRollup.client_id == client_id)
    return int((await session.execute(query)).scalar_one())
