"""Piece rates and the earnings of scored tasks."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import Earning, PieceRate
from bpo_common.contracts import TaskKind
from bpo_common.db import among, as_arrays, insert_arrays, update_arrays


async def piece_rates(session: AsyncSession, work_type: str | None = None) -> list[PieceRate]:
    query = select(PieceRate).order_by(PieceRate.work_type, PieceRate.kind)
    if work_type is not None:
        query = query.where(PieceRate.work_type == work_type)
    return list((await session.execute(query)).scalars())


async def piece_rates_of(
    session: AsyncSession, work_types: Sequence[str]
) -> dict[tuple[str, TaskKind], PieceRate]:
    """The piece rates of these work types, by work type and task kind."""
    query = select(PieceRate).where(among(PieceRate.work_type, work_types))
    return {(rate.work_type, rate.kind): rate for rate in (await session.execute(query)).scalars()}


async def put_piece_rates(
    session: AsyncSession,
    work_type: str,
    amounts: dict[TaskKind, Decimal],
    per_hour: Decimal | None,
    currency: str,
    updated_at: datetime,
) -> None:
    """Set the rate of each kind of task on the work type, replacing any there was."""
    statement = insert(PieceRate)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["work_type", "kind"],
            set_={
                "amount": statement.excluded.amount,
                "per_hour": statement.excluded.per_hour,
                "currency": statement.excluded.currency,
                "updated_at": statement.excluded.updated_at,
            },
        ),
        [
            {
                "work_type": work_type,
                "kind": kind,
                "amount": amount,
                "per_hour": per_hour,
                "currency": currency,
                "updated_at": updated_at,
            }
            for kind, amount in amounts.items()
        ],
    )


# Every column of an earning, each written from the instance.
_EARNING = tuple(Earning.__table__.columns.keys())
_ADD_EARNINGS = (
    insert_arrays(Earning.__table__, _EARNING)
    .on_conflict_do_nothing(index_elements=[Earning.task_id])
    .returning(Earning.task_id)
)


async def add_earnings(session: AsyncSession, earnings: Sequence[Earning]) -> set[UUID]:
    """Store the earnings of the tasks that have none yet, in one statement; returns those
    tasks (a task scored twice earns once)."""
    rows = [{name: getattr(earning, name) for name in _EARNING} for earning in earnings]
    return set((await session.execute(_ADD_EARNINGS, as_arrays(rows, _EARNING))).scalars())


def waiting_earnings(work_type: str, after: UUID | None, limit: int) -> Select[Earning]:
    """Up to `limit` of the work type's earnings that wait for a rate, locked, in id order:
    those after `after` (the last id of the chunk before). Read from ix_earning_waiting,
    which holds only such earnings."""
    query = select(Earning).where(Earning.work_type == work_type, Earning.amount.is_(None))
    if after is not None:
        query = query.where(Earning.id > after)
    return query.order_by(Earning.id).limit(limit).with_for_update()


async def unpriced_earnings(
    session: AsyncSession, work_type: str, after: UUID | None, limit: int
) -> list[Earning]:
    """`waiting_earnings`' earnings."""
    query = waiting_earnings(work_type, after, limit)
    return list((await session.execute(query)).scalars())


# What pricing a waiting earning sets (service.earnings).
PRICED = ("rate", "amount", "currency")
_WRITE_PRICED = update_arrays(Earning.__table__, "id", PRICED)


async def write_priced(session: AsyncSession, earnings: Sequence[Earning]) -> None:
    """The earnings' prices as they now stand, in one statement (the unit of work sends one
    UPDATE an earning); the session then forgets them, so that a chunk of them leaves memory
    once written."""
    if not earnings:
        return
    rows = [{name: getattr(earning, name) for name in ("id", *PRICED)} for earning in earnings]
    for earning in earnings:
        session.expunge(earning)
    await session.execute(_WRITE_PRICED, as_arrays(rows, ["id", *PRICED]))


async def earnings_by_group(
    session: AsyncSession, contractor_id: UUID, since: datetime, until: datetime
) -> Sequence[Any]:
    """(work_type, kind, outcome, rate, currency, tasks, amount) per group of a contractor's
    earnings in the period; rate, currency and amount are None while unpriced."""
    query = (
        select(
            Earning.work_type,
            Earning.kind,
            Earning.outcome,
            Earning.rate,
            Earning.currency,
            func.count().label("tasks"),
            func.sum(Earning.amount).label("amount"),
        )
        .where(
            Earning.contractor_id == contractor_id,
            Earning.earned_at >= since,
            Earning.earned_at < until,
        )
        .group_by(Earning.work_type, Earning.kind, Earning.outcome, Earning.rate, Earning.currency)
        .order_by(Earning.work_type, Earning.kind, Earning.outcome, Earning.rate)
    )
    return (await session.execute(query)).all()
