"""Piece rates and the earnings of scored tasks."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import Earning, PieceRate
from bpo_common.contracts import TaskKind
from bpo_common.db import among, as_arrays, insert_arrays


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


async def unpriced_earnings(session: AsyncSession, work_type: str) -> list[Earning]:
    query = (
        select(Earning)
        .where(Earning.work_type == work_type, Earning.amount.is_(None))
        .order_by(Earning.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


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
