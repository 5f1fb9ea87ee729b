"""The projections' writes: facts merged as events arrive, and rollups incremented.

Writes upsert facts and return whether the fact changed state, so that rollups move only on
a change.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Executable, Row, and_, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import as_arrays, insert_arrays
from bpo_reporting.domain.projections import (
    ContractorKey,
    EarnerKey,
    HourlyKey,
    Increment,
    JobItems,
    LedgerKind,
    MoneyKey,
    RollupKey,
    Settled,
    TurnaroundKey,
)
from bpo_reporting.models import (
    Base,
    ContractorEarningRollup,
    ContractorRollup,
    ExpiryFact,
    HourlyRollup,
    ItemFact,
    JobAccuracyFact,
    JobFact,
    LedgerFact,
    MoneyRollup,
    TaskFact,
    TurnaroundRollup,
    UploadFact,
)

ROLLUPS: Mapping[type[RollupKey], type[Base]] = {
    HourlyKey: HourlyRollup,
    TurnaroundKey: TurnaroundRollup,
    MoneyKey: MoneyRollup,
    ContractorKey: ContractorRollup,
    EarnerKey: ContractorEarningRollup,
}


# A rollup, its key columns and the columns an increment adds to.
Statement = tuple[type[Base], tuple[str, ...], tuple[str, ...]]


async def increment(session: AsyncSession, increments: Iterable[Increment]) -> None:
    """Add the increments to their rollup rows, creating the rows that do not exist yet: one
    statement per rollup and set of columns, increments of the same row added up first."""
    statements: dict[Statement, dict[RollupKey, dict[str, Any]]] = {}
    for change in increments:
        key = vars(change.key)
        rows = statements.setdefault(
            (ROLLUPS[type(change.key)], tuple(key), tuple(change.deltas)), {}
        )
        row = rows.setdefault(change.key, {**key, **dict.fromkeys(change.deltas, 0)})
        for name, value in change.deltas.items():
            row[name] += value
    for statement, rows in statements.items():
        columns = [*statement[1], *statement[2]]
        await session.execute(
            _increment_statement(*statement), as_arrays(list(rows.values()), columns)
        )


@functools.cache
def _increment_statement(
    model: type[Base], key_names: tuple[str, ...], names: tuple[str, ...]
) -> Executable:
    """One statement per rollup and set of columns, built once: one execution for all the
    rows, each row a key once."""
    statement = insert_arrays(model.__table__, [*key_names, *names])
    return statement.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: model.__table__.c[name] + statement.excluded[name] for name in names},
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


async def record_job_accuracy(session: AsyncSession, delivered: JobAccuracyFact) -> None:
    """Keep what an adaptive job delivered, unless a later estimate of it is kept already
    (the latest wins, whatever the order the events come in)."""
    columns = JobAccuracyFact.__table__.columns
    statement = insert(JobAccuracyFact).values(
        {column.name: getattr(delivered, column.key) for column in columns}
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobAccuracyFact.job_id],
            set_={c.name: statement.excluded[c.name] for c in columns if not c.primary_key},
            where=JobAccuracyFact.decided_at < statement.excluded.decided_at,
        )
    )


async def note_upload(session: AsyncSession, job_id: UUID, added_at: datetime) -> bool:
    """Note an upload of documents to a job; whether it was not noted before."""
    result = await session.execute(
        insert(UploadFact)
        .values(job_id=job_id, added_at=added_at)
        .on_conflict_do_nothing()
        .returning(UploadFact.job_id)
    )
    return result.first() is not None


_EXPIRY = ("task_id", "attempts")
_ADD_EXPIRIES = (
    insert_arrays(ExpiryFact.__table__, _EXPIRY)
    .on_conflict_do_nothing()
    .returning(ExpiryFact.task_id, ExpiryFact.attempts)
)


async def add_expiries(
    session: AsyncSession, expiries: Sequence[tuple[UUID, int]]
) -> set[tuple[UUID, int]]:
    """Note leases' expiries, (task id, attempts) each; those not noted before."""
    if not expiries:
        return set()
    rows = [{"task_id": task_id, "attempts": attempts} for task_id, attempts in expiries]
    result = await session.execute(_ADD_EXPIRIES, as_arrays(rows, _EXPIRY))
    return {(task_id, attempts) for task_id, attempts in result.all()}


_JOB_COUNTERS = (
    "items_received",
    "items_completed",
    "items_rejected",
    "items_erased",
    "documents",
    "pages",
)
_JOB_ITEMS = ("job_id", "client_id", "work_type", "last_finished_at", *_JOB_COUNTERS)


@functools.cache
def _add_job_items() -> Executable:
    statement = insert_arrays(JobFact.__table__, _JOB_ITEMS)
    counters = {
        name: JobFact.__table__.c[name] + statement.excluded[name] for name in _JOB_COUNTERS
    }
    return statement.on_conflict_do_update(
        index_elements=[JobFact.job_id],
        set_={
            "work_type": func.coalesce(JobFact.work_type, statement.excluded.work_type),
            # PostgreSQL's greatest passes over a null.
            "last_finished_at": func.greatest(
                JobFact.last_finished_at, statement.excluded.last_finished_at
            ),
            **counters,
        },
    )


async def add_job_items(session: AsyncSession, counts: Sequence[JobItems]) -> None:
    """Add to jobs' item counters, one row per job."""
    if not counts:
        return
    rows = [
        {
            "job_id": count.job_id,
            "client_id": count.client_id,
            "work_type": count.work_type,
            "last_finished_at": count.finished_at,
            "items_received": count.received,
            "items_completed": count.completed,
            "items_rejected": count.rejected,
            "items_erased": count.erased,
            "documents": count.documents,
            "pages": count.pages,
        }
        for count in counts
    ]
    await session.execute(_add_job_items(), as_arrays(rows, _JOB_ITEMS))


_RECEIVED = ("item_id", "job_id", "client_id", "work_type", "golden", "received_at")


@functools.cache
def _receive_items() -> Executable:
    statement = insert_arrays(ItemFact.__table__, _RECEIVED)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[ItemFact.item_id],
        set_={"received_at": excluded.received_at, "golden": excluded.golden},
        where=ItemFact.received_at.is_(None),
    ).returning(ItemFact.item_id, ItemFact.completed_at)


async def receive_items(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> list[Row[UUID, datetime | None]]:
    """Record items as received (rows of `_RECEIVED`); returns (item id, completed at) of
    those not received before (completed at is known when the completion arrived first)."""
    if not rows:
        return []
    result = await session.execute(_receive_items(), as_arrays(rows, _RECEIVED))
    return list(result.all())


@functools.cache
def _finish_items(column: str, names: tuple[str, ...]) -> Executable:
    statement = insert_arrays(ItemFact.__table__, names)
    set_: dict[str, Any] = {column: statement.excluded[column]}
    if "golden" in names:
        set_["golden"] = statement.excluded.golden
    return statement.on_conflict_do_update(
        index_elements=[ItemFact.item_id],
        set_=set_,
        where=ItemFact.__table__.c[column].is_(None),
    ).returning(ItemFact.item_id)


async def finish_items(
    session: AsyncSession, column: str, rows: Sequence[Mapping[str, Any]]
) -> set[UUID]:
    """Record items' completion, rejection or erasure (`column`), one row per item; the items
    whose `column` was not known before."""
    if not rows:
        return set()
    names = tuple(rows[0])
    result = await session.execute(_finish_items(column, names), as_arrays(rows, names))
    return set(result.scalars())


_CLAIMED = ("item_id", "job_id", "client_id", "work_type", "first_claimed_at")


@functools.cache
def _claim_items() -> Executable:
    statement = insert_arrays(ItemFact.__table__, _CLAIMED)
    first = func.least(ItemFact.first_claimed_at, statement.excluded.first_claimed_at)
    return statement.on_conflict_do_update(
        index_elements=[ItemFact.item_id], set_={"first_claimed_at": first}
    )


async def claim_items(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """An item's first claim is the earliest one any submission reports (one row per item,
    of `_CLAIMED`)."""
    if rows:
        await session.execute(_claim_items(), as_arrays(rows, _CLAIMED))


async def settle_turnarounds(session: AsyncSession, item_ids: Sequence[UUID]) -> list[Settled]:
    """Give a turnaround to the items that now know both ends of it, once each."""
    if not item_ids:
        return []
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
    settled = []
    for client_id, work_type, completed_at, seconds in result.all():
        # Settled means both ends are known.
        assert completed_at is not None
        assert seconds is not None
        settled.append(Settled(client_id, work_type, completed_at, seconds))
    return settled


_TASK_IDENTITY = {"task_id", "item_id", "job_id", "client_id", "contractor_id", "work_type", "kind"}


@functools.cache
def _upsert_tasks(guard: str, names: tuple[str, ...]) -> Executable:
    statement = insert_arrays(TaskFact.__table__, names)
    return statement.on_conflict_do_update(
        index_elements=[TaskFact.task_id],
        set_={name: statement.excluded[name] for name in names if name not in _TASK_IDENTITY},
        where=TaskFact.__table__.c[guard].is_(None),
    ).returning(TaskFact.task_id)


async def upsert_tasks(
    session: AsyncSession, guard: str, rows: Sequence[Mapping[str, Any]]
) -> set[UUID]:
    """Merge what events know of tasks, one row per task; the tasks whose `guard` column was
    NULL before."""
    if not rows:
        return set()
    names = tuple(rows[0])
    result = await session.execute(_upsert_tasks(guard, names), as_arrays(rows, names))
    return set(result.scalars())


_LEDGER = ("entry_id", "kind", "amount", "currency")
_ADD_LEDGER_ENTRIES = (
    insert_arrays(LedgerFact.__table__, _LEDGER)
    .on_conflict_do_nothing()
    .returning(LedgerFact.entry_id)
)


async def add_ledger_entries(
    session: AsyncSession, kind: LedgerKind, entries: Sequence[tuple[UUID, Decimal, str]]
) -> set[UUID]:
    """Note usage lines or earnings, (id, amount, currency) each; the ids not noted before."""
    if not entries:
        return set()
    rows = [
        {"entry_id": entry_id, "kind": kind, "amount": amount, "currency": currency}
        for entry_id, amount, currency in entries
    ]
    result = await session.execute(_ADD_LEDGER_ENTRIES, as_arrays(rows, _LEDGER))
    return set(result.scalars())
