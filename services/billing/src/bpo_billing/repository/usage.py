"""The usage ledger: one line per completed item, and the monthly counts tiers go by."""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import UsageLine, VolumeCounter
from bpo_billing.repository import exists
from bpo_common.pagination import PageRequest, paginate


async def usage_line_exists(session: AsyncSession, item_id: UUID) -> bool:
    return await exists(session, UsageLine.item_id == item_id)


async def add_usage_line(session: AsyncSession, line: UsageLine) -> None:
    session.add(line)
    await session.flush()


async def unpriced_usage(
    session: AsyncSession, client_id: UUID, work_types: list[str]
) -> list[UsageLine]:
    query = (
        select(UsageLine)
        .where(
            UsageLine.client_id == client_id,
            UsageLine.amount.is_(None),
            UsageLine.work_type.in_(work_types),
        )
        .order_by(UsageLine.completed_at, UsageLine.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def next_ordinal(session: AsyncSession, client_id: UUID, work_type: str, month: date) -> int:
    """Count one more item of the month and return its number (the row stays locked)."""
    statement = (
        insert(VolumeCounter)
        .values(client_id=client_id, work_type=work_type, month=month, items=1)
        .on_conflict_do_update(
            index_elements=["client_id", "work_type", "month"],
            set_={"items": VolumeCounter.items + 1},
        )
        .returning(VolumeCounter.items)
    )
    return int((await session.execute(statement)).scalar_one())


async def list_usage(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
    page: PageRequest,
) -> list[UsageLine]:
    query = select(UsageLine)
    if scope is not None:
        query = query.where(UsageLine.client_id == scope)
    if client_id is not None:
        query = query.where(UsageLine.client_id == client_id)
    if since is not None:
        query = query.where(UsageLine.completed_at >= since)
    if until is not None:
        query = query.where(UsageLine.completed_at < until)
    return list((await session.execute(paginate(query, UsageLine.id, page))).scalars())
