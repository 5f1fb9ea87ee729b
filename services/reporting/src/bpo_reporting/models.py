"""Read models of the reporting service, built only from events.

Facts (job, item, task) record each thing's life as its events arrive, in any order: every
column is filled by exactly one kind of event, so merging them gives the same row whatever
the order. Rollups hold counts per hour; reports read rollups, never facts over a period.
A rollup is changed only when a fact changes state (an upsert that returns a row), so a
repeated event, even under a new id, counts once. (The accuracy adaptive jobs delivered is
listed per job, not summed: its report reads the few facts of a period by their time.)
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import DateTime, Index, Numeric, SmallInteger, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_common.db import enum_column, new_metadata
from bpo_reporting.domain.projections import LedgerKind


class Base(DeclarativeBase):
    metadata = new_metadata()


metadata = Base.metadata

ZERO = text("0")


def _counter() -> Mapped[int]:
    return mapped_column(default=0, server_default=ZERO)


def _money() -> Mapped[Decimal]:
    return mapped_column(Numeric, default=Decimal(0), server_default=ZERO)


class JobFact(Base):
    """A job's terms and life; its item counters give the backlog of open jobs."""

    __tablename__ = "job_fact"
    __table_args__ = (
        # The open jobs (the SLA report, the backlog) without scanning finished ones.
        Index(
            "ix_job_fact_open",
            "due_at",
            postgresql_where=text("completed_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    # Known from JobCreated, ItemsReceived or JobCompleted, whichever arrives first.
    work_type: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    items_received: Mapped[int] = _counter()
    items_completed: Mapped[int] = _counter()
    items_rejected: Mapped[int] = _counter()
    # Items closed because their data was erased before they were decided: not rejected.
    items_erased: Mapped[int] = _counter()
    # When its last item was completed, rejected or erased: the job's completion time once
    # it is closed with nothing left.
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Documents attached to the job, and their pages.
    documents: Mapped[int] = _counter()
    pages: Mapped[int] = _counter()


class JobAccuracyFact(Base):
    """The accuracy an adaptive job delivered, as validation estimated it once the job
    completed; `met` False: not its target with 95 % confidence, the job is flagged."""

    __tablename__ = "job_accuracy_fact"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    target: Mapped[Decimal] = mapped_column(Numeric)
    items: Mapped[int]
    single_keyed: Mapped[int]
    keyed_twice: Mapped[int]
    estimate: Mapped[float | None]
    lower: Mapped[float | None]
    upper: Mapped[float | None]
    assured: Mapped[float | None]
    met: Mapped[bool]
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ItemFact(Base):
    """One row per item: received, first claimed, completed, rejected or closed by its data's
    erasure, turnaround."""

    __tablename__ = "item_fact"

    item_id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    golden: Mapped[bool | None]
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set once both received_at and completed_at are known, whichever came last.
    turnaround_s: Mapped[float | None]


class OpenExceptionFact(Base):
    """An item validation holds in its exception queue, waiting for its client to resolve its
    invoice's mismatch: none of the keyers' work. One row per open exception, gone once it is
    resolved or its item is finished otherwise (completed, rejected, closed by its erasure)."""

    __tablename__ = "open_exception_fact"

    exception_id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(index=True)
    item_id: Mapped[UUID] = mapped_column(index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskFact(Base):
    """One row per task: who did it, what kind, how long it took, how it came out."""

    __tablename__ = "task_fact"

    task_id: Mapped[UUID] = mapped_column(primary_key=True)
    item_id: Mapped[UUID]
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    contractor_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # TaskOutcome's class is named Outcome (billing's published name); the type says more.
    outcome: Mapped[TaskOutcome | None] = mapped_column(
        enum_column(TaskOutcome, name="taskoutcome")
    )
    fields_judged: Mapped[int | None]
    fields_correct: Mapped[int | None]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UploadFact(Base):
    """Uploads of documents seen (DocumentsAdded), so that each is counted once in its job's
    documents: an upload is its job and its time (intake takes a job's uploads one at a time)."""

    __tablename__ = "upload_fact"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class ExpiryFact(Base):
    """Leases' expiries seen (TaskExpired), so that each is counted once: a task's expiries
    are told apart by its count of them, which each one raises."""

    __tablename__ = "expiry_fact"

    task_id: Mapped[UUID] = mapped_column(primary_key=True)
    attempts: Mapped[int] = mapped_column(primary_key=True)


class LedgerFact(Base):
    """Billing's usage lines and earnings seen, so that each is counted once in the money."""

    __tablename__ = "ledger_fact"

    entry_id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind))
    amount: Mapped[Decimal] = mapped_column(Numeric)
    currency: Mapped[str] = mapped_column(String(3))


class HourlyRollup(Base):
    """Counts per client, work type and hour; reports read these, never raw facts."""

    __tablename__ = "hourly_rollup"

    client_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    items_received: Mapped[int] = _counter()
    items_completed: Mapped[int] = _counter()
    items_rejected: Mapped[int] = _counter()
    # Jobs with a due time that completed in this hour, on time or late.
    jobs_sla_met: Mapped[int] = _counter()
    jobs_sla_missed: Mapped[int] = _counter()
    entries_accepted: Mapped[int] = _counter()
    entries_overturned: Mapped[int] = _counter()
    entries_rejected: Mapped[int] = _counter()
    fields_judged: Mapped[int] = _counter()
    fields_correct: Mapped[int] = _counter()


class TurnaroundRollup(Base):
    """Items completed per hour by turnaround bin (log-spaced; see domain.turnaround)."""

    __tablename__ = "turnaround_rollup"

    client_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    bin: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    items: Mapped[int] = _counter()


class MoneyRollup(Base):
    """Revenue (billing's usage) and contractor cost (earnings) per hour and currency."""

    __tablename__ = "money_rollup"

    client_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    revenue: Mapped[Decimal] = _money()
    contractor_cost: Mapped[Decimal] = _money()


class ContractorRollup(Base):
    """What one contractor did in an hour: tasks, time to submit, outcomes, fields judged."""

    __tablename__ = "contractor_rollup"

    contractor_id: Mapped[UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    tasks_submitted: Mapped[int] = _counter()
    submit_seconds: Mapped[float] = mapped_column(default=0.0, server_default=ZERO)
    # Tasks submitted with the time the contractor was active on them, that time, and the
    # fields those tasks' data held.
    timed_tasks: Mapped[int] = _counter()
    active_seconds: Mapped[float] = mapped_column(default=0.0, server_default=ZERO)
    fields_keyed: Mapped[int] = _counter()
    tasks_expired: Mapped[int] = _counter()
    entries_accepted: Mapped[int] = _counter()
    entries_overturned: Mapped[int] = _counter()
    entries_rejected: Mapped[int] = _counter()
    fields_judged: Mapped[int] = _counter()
    fields_correct: Mapped[int] = _counter()


class ContractorEarningRollup(Base):
    __tablename__ = "contractor_earning_rollup"

    contractor_id: Mapped[UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[Decimal] = _money()


READ_MODELS = (
    JobFact,
    JobAccuracyFact,
    ItemFact,
    OpenExceptionFact,
    TaskFact,
    UploadFact,
    ExpiryFact,
    LedgerFact,
    HourlyRollup,
    TurnaroundRollup,
    MoneyRollup,
    ContractorRollup,
    ContractorEarningRollup,
)
