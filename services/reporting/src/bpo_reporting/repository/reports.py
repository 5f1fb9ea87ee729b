"""The reports' reads: rollups summed over a range of hours, never facts over a period; the
open jobs and the backlog from the job facts; the few jobs whose delivered accuracy came in a
period, by its time."""

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, and_, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_reporting.domain.reports import ContractorWork, Counts, Judged, Money
from bpo_reporting.models import (
    Base,
    ContractorEarningRollup,
    ContractorRollup,
    HourlyRollup,
    ItemFact,
    JobAccuracyFact,
    JobFact,
    MoneyRollup,
    OpenExceptionFact,
    TurnaroundRollup,
)
from bpo_reporting.repository.exceptions import FINISHED

COUNTERS = tuple(field.name for field in fields(Counts))
CONTRACTOR_COUNTERS = (
    "tasks_submitted",
    "tasks_expired",
    "timed_tasks",
    "fields_keyed",
    *(field.name for field in fields(Judged)),
)


def _period(hour: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(hour >= start, hour < end)


def _sums(model: type[Base], names: Sequence[str]) -> list[Any]:
    table = model.__table__
    return [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in names]


def _counts(row: Row[Any]) -> Counts:
    return Counts(**{name: int(row._mapping[name]) for name in COUNTERS})


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
) -> Counts:
    query = select(*_sums(HourlyRollup, COUNTERS)).where(_period(HourlyRollup.hour, start, end))
    row = (await session.execute(_scoped(query, HourlyRollup, client_id, work_type))).one()
    return _counts(row)


async def hourly_series(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    day_buckets: bool,
    client_id: UUID | None,
    work_type: str | None,
) -> dict[datetime, Counts]:
    bucket = (
        func.date_trunc("day", HourlyRollup.hour, "UTC") if day_buckets else HourlyRollup.hour
    ).label("bucket")
    query = (
        select(bucket, *_sums(HourlyRollup, COUNTERS))
        .where(_period(HourlyRollup.hour, start, end))
        .group_by(bucket)
    )
    rows = (await session.execute(_scoped(query, HourlyRollup, client_id, work_type))).all()
    return {row.bucket: _counts(row) for row in rows}


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


_has_money = or_(MoneyRollup.revenue != 0, MoneyRollup.contractor_cost != 0)


async def currencies(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None = None
) -> list[str]:
    """The currencies with amounts in the period (earnings are in money_rollup as costs too);
    one of zero amounts alone (the earnings of rejected tasks) is none of them."""
    query = (
        select(MoneyRollup.currency)
        .where(_period(MoneyRollup.hour, start, end), _has_money)
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
) -> dict[UUID, Money]:
    """Revenue and contractor cost per client in one currency."""
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
    return {client: Money(revenue, cost) for client, revenue, cost in rows}


async def currencies_per_client(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None = None
) -> dict[UUID, dict[str, bool]]:
    """The currencies each client's money is in, in the period, each with whether it holds
    contractor cost."""
    query = (
        select(
            MoneyRollup.client_id,
            MoneyRollup.currency,
            func.bool_or(MoneyRollup.contractor_cost != 0),
        )
        .where(_period(MoneyRollup.hour, start, end), _has_money)
        .group_by(MoneyRollup.client_id, MoneyRollup.currency)
    )
    if client_id is not None:
        query = query.where(MoneyRollup.client_id == client_id)
    found: dict[UUID, dict[str, bool]] = {}
    for client, currency, cost in (await session.execute(query)).all():
        found.setdefault(client, {})[currency] = bool(cost)
    return found


async def open_jobs(
    session: AsyncSession, client_id: UUID | None = None
) -> list[
    Row[
        UUID,
        UUID,
        str | None,
        datetime | None,
        datetime | None,
        int,
        int,
        int,
        int,
        datetime | None,
        int,
        int,
        int,
    ]
]:
    """Jobs neither completed nor cancelled, with their item counts and how many of their
    items are held in open exceptions (`items_held`)."""
    # Items, not exceptions; and none finished, whatever row an exception left (one whose
    # item a replica of an earlier release finished without ending it, say).
    held = (
        select(func.count(distinct(OpenExceptionFact.item_id)))
        .where(
            OpenExceptionFact.job_id == JobFact.job_id,
            ~exists().where(ItemFact.item_id == OpenExceptionFact.item_id, FINISHED),
        )
        .correlate(JobFact)
        .scalar_subquery()
    )
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
            JobFact.items_erased,
            JobFact.last_finished_at,
            JobFact.documents,
            JobFact.pages,
            held.label("items_held"),
        )
        .where(JobFact.completed_at.is_(None), JobFact.cancelled_at.is_(None))
        .order_by(JobFact.due_at.asc().nulls_last(), JobFact.job_id)
    )
    if client_id is not None:
        query = query.where(JobFact.client_id == client_id)
    return list((await session.execute(query)).all())


def _accuracy_in(query: Any, start: datetime, end: datetime, client_id: UUID | None) -> Any:
    query = query.where(_period(JobAccuracyFact.decided_at, start, end))
    return _scoped(query, JobAccuracyFact, client_id, None)


async def delivered_accuracy(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None, limit: int
) -> list[JobAccuracyFact]:
    """The latest `limit` adaptive jobs whose delivered accuracy came in the period."""
    query = _accuracy_in(select(JobAccuracyFact), start, end, client_id)
    query = query.order_by(JobAccuracyFact.decided_at.desc(), JobAccuracyFact.job_id).limit(limit)
    return list((await session.execute(query)).scalars())


async def delivered_accuracy_counts(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None
) -> tuple[int, int]:
    """How many adaptive jobs' delivered accuracy came in the period, and how many of them
    missed their target."""
    missed = func.count().filter(JobAccuracyFact.met.is_(False))
    query = _accuracy_in(select(func.count(), missed), start, end, client_id)
    jobs, flagged = (await session.execute(query)).one()
    return int(jobs), int(flagged)


async def backlog_per_client(
    session: AsyncSession, client_id: UUID | None = None
) -> dict[UUID, int]:
    """Items of open jobs not yet completed, rejected or erased, per client."""
    finished = JobFact.items_completed + JobFact.items_rejected + JobFact.items_erased
    remaining = func.greatest(JobFact.items_received - finished, 0)
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
) -> dict[UUID, Counts]:
    query = (
        select(HourlyRollup.client_id, *_sums(HourlyRollup, COUNTERS))
        .where(_period(HourlyRollup.hour, start, end))
        .group_by(HourlyRollup.client_id)
    )
    return {row.client_id: _counts(row) for row in (await session.execute(query)).all()}


async def contractors_in_period(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[UUID, ContractorWork]:
    """Per contractor: the counters, the seconds spent to submit, and the active hours."""
    active = func.count().filter(ContractorRollup.tasks_submitted > 0).label("active_hours")
    query = (
        select(
            ContractorRollup.contractor_id,
            *_sums(ContractorRollup, [*CONTRACTOR_COUNTERS, "submit_seconds", "active_seconds"]),
            active,
        )
        .where(_period(ContractorRollup.hour, start, end))
        .group_by(ContractorRollup.contractor_id)
    )
    return {
        row.contractor_id: ContractorWork(
            **{name: int(row._mapping[name]) for name in CONTRACTOR_COUNTERS},
            submit_seconds=float(row.submit_seconds),
            active_seconds=float(row.active_seconds),
            active_hours=int(row.active_hours),
        )
        for row in (await session.execute(query)).all()
    }


async def earning_currencies(session: AsyncSession, start: datetime, end: datetime) -> list[str]:
    """The currencies contractors earned in during the period (more than nothing)."""
    query = (
        select(ContractorEarningRollup.currency)
        .where(
            _period(ContractorEarningRollup.hour, start, end), ContractorEarningRollup.amount != 0
        )
        .group_by(ContractorEarningRollup.currency)
    )
    return sorted((await session.execute(query)).scalars())


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
