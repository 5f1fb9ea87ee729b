"""Every query of the reporting service."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_reporting.models import HourlyRollup, ItemFact, JobFact


async def save_job(session: AsyncSession, job: JobFact) -> None:
    values = {column.key: getattr(job, column.key) for column in JobFact.__table__.columns}
    await session.execute(insert(JobFact).values(values).on_conflict_do_nothing())


async def save_items(session: AsyncSession, items: Sequence[ItemFact]) -> None:
    if items:
        rows = [
            {column.key: getattr(item, column.key) for column in ItemFact.__table__.columns}
            for item in items
        ]
        await session.execute(insert(ItemFact).on_conflict_do_nothing(), rows)


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
