"""Every query of the reporting service.

Writes upsert facts and return whether the fact changed state, so that rollups move only on
a change. Reads sum rollups over a range of hours, never facts.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Executable, Row, and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.tables import inbox_event
from bpo_reporting.models import (
    READ_MODELS,
    Base,
    ContractorEarningRollup,
    ContractorRollup,
    HourlyRollup,
    ItemFact,
    JobFact,
    LedgerFact,
    MoneyRollup,
    TaskFact,
    TurnaroundRollup,
)

Number = int | float | Decimal


async def increment(
    session: AsyncSession,
    model: type[Base],
    rows: Iterable[tuple[Mapping[str, Any], Mapping[str, Number]]],
) -> None:
    """Add deltas to rollup rows, each given as (key columns, deltas), creating the rows that
    do not exist yet. Every row names the same key and delta columns."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    key_names: list[str] = []
    for key, deltas in rows:
        key_names = list(key)
        row = merged.setdefault(tuple(key.values()), {**key, **dict.fromkeys(deltas, 0)})
        for name, value in deltas.items():
            row[name] += value
    if not merged:
        return
    values = list(merged.values())
    statement = _increment_statement(model, tuple(key_names), tuple(values[0]))
    await session.execute(statement, values)


@functools.cache
def _increment_statement(
    model: type[Base], key_names: tuple[str, ...], names: tuple[str, ...]
) -> Executable:
    """One statement per rollup and set of columns, built once (values go as parameters), so
    the hot path neither rebuilds nor recompiles it."""
    statement = insert(model)
    table = model.__table__
    return statement.on_conflict_do_update(
        index_elements=list(key_names),
        set_={
            name: table.c[name] + statement.excluded[name]
            for name in names
            if name not in key_names
        },
    )


async def upsert_job(session: AsyncSession, job_id: UUID, client_id: UUID, **values: Any) -> bool:
    """Merge what one event knows of a job; True when a value was new (was NULL before).

    Each column comes from one kind of event, so only the first copy of it counts."""
    statement = insert(JobFact).values(job_id=job_id, client_id=client_id, **values)
    changed = [JobFact.__table__.c[name].is_(None) for name in values if name != "work_type"]
    set_: dict[str, Any] = {name: statement.excluded[name] for name in values}
    if "work_type" in values:
        set_["work_type"] = func.coalesce(JobFact.work_type, statement.excluded.work_type)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobFact.job_id],
            set_=set_,
            where=and_(*changed) if changed else None,
        ).returning(JobFact.job_id)
    )
    return result.first() is not None


async def add_job_items(
    session: AsyncSession,
    job_id: UUID,
    client_id: UUID,
    work_type: str,
    *,
    received: int = 0,
    completed: int = 0,
    rejected: int = 0,
) -> None:
    statement = insert(JobFact).values(
        job_id=job_id,
        client_id=client_id,
        work_type=work_type,
        items_received=received,
        items_completed=completed,
        items_rejected=rejected,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobFact.job_id],
            set_={
                "work_type": func.coalesce(JobFact.work_type, excluded.work_type),
                "items_received": JobFact.items_received + excluded.items_received,
                "items_completed": JobFact.items_completed + excluded.items_completed,
                "items_rejected": JobFact.items_rejected + excluded.items_rejected,
            },
        )
    )


async def receive_items(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> list[Row[UUID, datetime | None]]:
    """Record items as received; returns (item id, completed at) of those not received
    before (completed at is known when the completion arrived first)."""
    if not rows:
        return []
    statement = insert(ItemFact).values(list(rows))
    excluded = statement.excluded
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ItemFact.item_id],
            set_={"received_at": excluded.received_at, "golden": excluded.golden},
            where=ItemFact.received_at.is_(None),
        ).returning(ItemFact.item_id, ItemFact.completed_at)
    )
    return list(result.all())


async def finish_item(session: AsyncSession, column: str, **values: Any) -> bool:
    """Record an item's completion or rejection (`column`); True the first time."""
    statement = insert(ItemFact).values(**values)
    target = ItemFact.__table__.c[column]
    set_: dict[str, Any] = {column: statement.excluded[column]}
    if "golden" in values:
        set_["golden"] = statement.excluded.golden
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ItemFact.item_id], set_=set_, where=target.is_(None)
        ).returning(ItemFact.item_id)
    )
    return result.first() is not None


async def claim_item(session: AsyncSession, claimed_at: datetime, **values: Any) -> None:
    """The item's first claim is the earliest one any submission reports."""
    statement = insert(ItemFact).values(first_claimed_at=claimed_at, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ItemFact.item_id],
            set_={
                "first_claimed_at": func.least(
                    ItemFact.first_claimed_at, statement.excluded.first_claimed_at
                )
            },
        )
    )


async def settle_turnarounds(
    session: AsyncSession, item_ids: Sequence[UUID]
) -> list[Row[UUID, str, datetime | None, float | None]]:
    """Give a turnaround to the items that now know both ends of it, once each; returns
    (client, work type, completed at, turnaround seconds) of those."""
    turnaround = func.extract("epoch", ItemFact.completed_at - ItemFact.received_at)
    result = await session.execute(
        update(ItemFact)
        .where(
            ItemFact.item_id.in_(item_ids),
            ItemFact.received_at.is_not(None),
            ItemFact.completed_at.is_not(None),
            ItemFact.turnaround_s.is_(None),
        )
        .values(turnaround_s=func.greatest(turnaround, 0))
        .returning(
            ItemFact.client_id, ItemFact.work_type, ItemFact.completed_at, ItemFact.turnaround_s
        )
    )
    return list(result.all())


async def upsert_task(session: AsyncSession, guard: str, **values: Any) -> bool:
    """Merge what one event knows of a task; True when its `guard` column was NULL before."""
    statement = insert(TaskFact).values(**values)
    identity = {"task_id", "item_id", "job_id", "client_id", "contractor_id", "work_type", "kind"}
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[TaskFact.task_id],
            set_={name: statement.excluded[name] for name in values if name not in identity},
            where=TaskFact.__table__.c[guard].is_(None),
        ).returning(TaskFact.task_id)
    )
    return result.first() is not None


async def add_ledger_entry(
    session: AsyncSession, entry_id: UUID, kind: str, amount: Decimal, currency: str
) -> bool:
    """Note a usage line or an earning; False when it was noted before."""
    result = await session.execute(
        insert(LedgerFact)
        .values(entry_id=entry_id, kind=kind, amount=amount, currency=currency)
        .on_conflict_do_nothing()
        .returning(LedgerFact.entry_id)
    )
    return result.first() is not None


# Reads


def _period(hour: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(hour >= start, hour < end)


COUNTERS = (
    "items_received",
    "items_completed",
    "items_rejected",
    "jobs_sla_met",
    "jobs_sla_missed",
    "entries_accepted",
    "entries_overturned",
    "entries_rejected",
    "fields_judged",
    "fields_correct",
)


def _sums(model: type[Base], names: Sequence[str]) -> list[Any]:
    table = model.__table__
    return [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in names]


def _scoped(query: Any, model: Any, client_id: UUID | None, work_type: str | None) -> Any:
    if client_id is not None:
        query = query.where(model.client_id == client_id)
    if work_type is not None:
        query = query.where(model.work_type == work_type)
    return query


async def hourly_totals(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    client_id: UUID | None = None,
    work_type: str | None = None,
) -> dict[str, int]:
    query = select(*_sums(HourlyRollup, COUNTERS)).where(_period(HourlyRollup.hour, start, end))
    row = (await session.execute(_scoped(query, HourlyRollup, client_id, work_type))).one()
    return {name: int(value) for name, value in row._mapping.items()}


async def hourly_series(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    day_buckets: bool,
    client_id: UUID | None,
    work_type: str | None,
) -> dict[datetime, dict[str, int]]:
    bucket = (
        func.date_trunc("day", HourlyRollup.hour, "UTC") if day_buckets else HourlyRollup.hour
    ).label("bucket")
    query = (
        select(bucket, *_sums(HourlyRollup, COUNTERS))
        .where(_period(HourlyRollup.hour, start, end))
        .group_by(bucket)
    )
    rows = (await session.execute(_scoped(query, HourlyRollup, client_id, work_type))).all()
    return {row.bucket: {name: int(row._mapping[name]) for name in COUNTERS} for row in rows}


async def turnaround_bins(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    client_id: UUID | None = None,
    work_type: str | None = None,
) -> dict[UUID, dict[int, int]]:
    """Items per turnaround bin, per client."""
    query = (
        select(TurnaroundRollup.client_id, TurnaroundRollup.bin, func.sum(TurnaroundRollup.items))
        .where(_period(TurnaroundRollup.hour, start, end))
        .group_by(TurnaroundRollup.client_id, TurnaroundRollup.bin)
    )
    rows = (await session.execute(_scoped(query, TurnaroundRollup, client_id, work_type))).all()
    bins: dict[UUID, dict[int, int]] = {}
    for client, bin_, items in rows:
        bins.setdefault(client, {})[bin_] = int(items)
    return bins


async def currencies(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None = None
) -> list[str]:
    """The currencies with amounts in the period (earnings are in money_rollup as costs too)."""
    query = (
        select(MoneyRollup.currency)
        .where(_period(MoneyRollup.hour, start, end))
        .group_by(MoneyRollup.currency)
    )
    if client_id is not None:
        query = query.where(MoneyRollup.client_id == client_id)
    return sorted((await session.execute(query)).scalars())


async def money_per_client(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    currency: str,
    client_id: UUID | None = None,
) -> dict[UUID, tuple[Decimal, Decimal]]:
    """(revenue, contractor cost) per client in one currency."""
    query = (
        select(
            MoneyRollup.client_id,
            func.sum(MoneyRollup.revenue),
            func.sum(MoneyRollup.contractor_cost),
        )
        .where(_period(MoneyRollup.hour, start, end), MoneyRollup.currency == currency)
        .group_by(MoneyRollup.client_id)
    )
    if client_id is not None:
        query = query.where(MoneyRollup.client_id == client_id)
    rows = (await session.execute(query)).all()
    return {client: (revenue, cost) for client, revenue, cost in rows}


async def open_jobs(
    session: AsyncSession, client_id: UUID | None = None
) -> list[Row[UUID, UUID, str | None, datetime | None, datetime | None, int, int, int]]:
    """Jobs neither completed nor cancelled, with their item counts."""
    query = (
        select(
            JobFact.job_id,
            JobFact.client_id,
            JobFact.work_type,
            JobFact.due_at,
            JobFact.closed_at,
            JobFact.items_received,
            JobFact.items_completed,
            JobFact.items_rejected,
        )
        .where(JobFact.completed_at.is_(None), JobFact.cancelled_at.is_(None))
        .order_by(JobFact.due_at.asc().nulls_last(), JobFact.job_id)
    )
    if client_id is not None:
        query = query.where(JobFact.client_id == client_id)
    return list((await session.execute(query)).all())


async def backlog_per_client(
    session: AsyncSession, client_id: UUID | None = None
) -> dict[UUID, int]:
    """Items of open jobs not yet completed or rejected, per client."""
    remaining = func.greatest(
        JobFact.items_received - JobFact.items_completed - JobFact.items_rejected, 0
    )
    query = (
        select(JobFact.client_id, func.sum(remaining))
        .where(JobFact.completed_at.is_(None), JobFact.cancelled_at.is_(None))
        .group_by(JobFact.client_id)
    )
    if client_id is not None:
        query = query.where(JobFact.client_id == client_id)
    return {client: int(items) for client, items in (await session.execute(query)).all()}


async def clients_in_period(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[UUID, dict[str, int]]:
    query = (
        select(HourlyRollup.client_id, *_sums(HourlyRollup, COUNTERS))
        .where(_period(HourlyRollup.hour, start, end))
        .group_by(HourlyRollup.client_id)
    )
    return {
        row.client_id: {name: int(row._mapping[name]) for name in COUNTERS}
        for row in (await session.execute(query)).all()
    }


CONTRACTOR_COUNTERS = (
    "tasks_submitted",
    "tasks_expired",
    "entries_accepted",
    "entries_overturned",
    "entries_rejected",
    "fields_judged",
    "fields_correct",
)


async def contractors_in_period(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[UUID, dict[str, Any]]:
    """Per contractor: the counters, the seconds spent to submit, and the active hours."""
    active = func.count().filter(ContractorRollup.tasks_submitted > 0).label("active_hours")
    query = (
        select(
            ContractorRollup.contractor_id,
            *_sums(ContractorRollup, [*CONTRACTOR_COUNTERS, "submit_seconds"]),
            active,
        )
        .where(_period(ContractorRollup.hour, start, end))
        .group_by(ContractorRollup.contractor_id)
    )
    return {row.contractor_id: dict(row._mapping) for row in (await session.execute(query)).all()}


async def earnings_in_period(
    session: AsyncSession, start: datetime, end: datetime, currency: str
) -> dict[UUID, Decimal]:
    query = (
        select(ContractorEarningRollup.contractor_id, func.sum(ContractorEarningRollup.amount))
        .where(
            _period(ContractorEarningRollup.hour, start, end),
            ContractorEarningRollup.currency == currency,
        )
        .group_by(ContractorEarningRollup.contractor_id)
    )
    return {contractor: amount for contractor, amount in (await session.execute(query)).all()}


# Rebuild


async def lock_read_models(session: AsyncSession) -> None:
    """Hold every read model and the inbox until the transaction ends: the service's own
    consumer waits meanwhile, and finds afterwards that the rebuild applied its events."""
    names = ", ".join(model.__tablename__ for model in READ_MODELS)
    await session.execute(text(f"LOCK TABLE {names}, inbox_event IN ACCESS EXCLUSIVE MODE"))


async def clear_read_models(session: AsyncSession, consumer: str) -> None:
    names = ", ".join(model.__tablename__ for model in READ_MODELS)
    await session.execute(text(f"TRUNCATE {names}"))
    await session.execute(delete(inbox_event).where(inbox_event.c.consumer == consumer))
