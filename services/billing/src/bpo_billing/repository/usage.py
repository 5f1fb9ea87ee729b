"""The usage ledger: one line per completed item and per billed exception, and the monthly
counts tiers go by."""

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.invoices import UsageKind
from bpo_billing.models import UsageLine, VolumeCounter
from bpo_billing.repository import exists
from bpo_common.db import among, as_arrays, copy_instances, update_arrays
from bpo_common.pagination import PageRequest, paginate


async def items_with_usage(session: AsyncSession, item_ids: Sequence[UUID]) -> set[UUID]:
    """The items among these that have their item's usage line already (an exception's line
    names its item too, and may come first)."""
    query = select(UsageLine.item_id).where(
        UsageLine.kind == UsageKind.ITEM, among(UsageLine.item_id, item_ids)
    )
    return set((await session.execute(query)).scalars())


async def exception_billed(session: AsyncSession, exception_id: UUID) -> bool:
    return await exists(session, UsageLine.exception_id == exception_id)


async def add_usage_lines(session: AsyncSession, lines: Sequence[UsageLine]) -> None:
    await copy_instances(session, lines)


def waiting_usage(
    client_id: UUID, work_types: list[str], after: tuple[datetime, UUID] | None, limit: int
) -> Select[UsageLine]:
    """Up to `limit` of the client's lines of these work types that wait for a price, locked,
    in the order they completed: those after `after` (the last line's (completed_at, id) of
    the chunk before). Read from ix_usage_line_waiting, which holds only such lines."""
    query = select(UsageLine).where(
        UsageLine.client_id == client_id,
        UsageLine.amount.is_(None),
        among(UsageLine.work_type, work_types),
    )
    if after is not None:
        query = query.where(tuple_(UsageLine.completed_at, UsageLine.id) > tuple_(*after))
    return query.order_by(UsageLine.completed_at, UsageLine.id).limit(limit).with_for_update()


async def unpriced_usage(
    session: AsyncSession,
    client_id: UUID,
    work_types: list[str],
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[UsageLine]:
    """`waiting_usage`'s lines."""
    query = waiting_usage(client_id, work_types, after, limit)
    return list((await session.execute(query)).scalars())


# What pricing a waiting line sets (service.usage).
PRICED = (
    "price_book_id",
    "unit_price",
    "field_price",
    "rush_pct",
    "amount",
    "currency",
    "priced_at",
)
_WRITE_PRICED = update_arrays(UsageLine.__table__, "id", PRICED)


async def write_priced(session: AsyncSession, lines: Sequence[UsageLine]) -> None:
    """The lines' prices as they now stand, in one statement (the unit of work sends one
    UPDATE a line); the session then forgets the lines, so that a chunk of them leaves memory
    once written."""
    if not lines:
        return
    rows = [{name: getattr(line, name) for name in ("id", *PRICED)} for line in lines]
    for line in lines:
        session.expunge(line)
    await session.execute(_WRITE_PRICED, as_arrays(rows, ["id", *PRICED]))


def waiting_counts(client_id: UUID, until: datetime) -> Select[str, int]:
    """(work_type, lines) of the client's usage completed before `until` that waits for a
    price, read from ix_usage_line_waiting."""
    return (
        select(UsageLine.work_type, func.count())
        .where(
            UsageLine.client_id == client_id,
            UsageLine.amount.is_(None),
            UsageLine.completed_at < until,
        )
        .group_by(UsageLine.work_type)
        .order_by(UsageLine.work_type)
    )


async def waiting_for_a_price(
    session: AsyncSession, client_id: UUID, until: datetime
) -> dict[str, int]:
    """The client's usage lines completed before `until` that wait for a price, per work
    type."""
    rows = await session.execute(waiting_counts(client_id, until))
    return {work_type: count for work_type, count in rows}


async def count_items(
    session: AsyncSession, client_id: UUID, work_type: str, month: date, items: int
) -> int:
    """Count `items` more items of the month; the number of the first of them (the row stays
    locked until the transaction ends, so numbers are never given twice)."""
    statement = (
        insert(VolumeCounter)
        .values(client_id=client_id, work_type=work_type, month=month, items=items)
        .on_conflict_do_update(
            index_elements=["client_id", "work_type", "month"],
            set_={"items": VolumeCounter.items + items},
        )
        .returning(VolumeCounter.items)
    )
    return int((await session.execute(statement)).scalar_one()) - items + 1


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
