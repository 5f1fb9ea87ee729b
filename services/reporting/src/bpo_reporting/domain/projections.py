"""What each event adds to the rollups, from the event and what its fact's upsert said.

A rollup moves only when a fact changed state: the upsert says whether the event was the
first to tell it (`first`), so a repeat, even under a new event id, adds nothing. A turnaround
needs both the receipt and the completion: whichever arrives second settles it, and the
settled items are what its increments come from.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from bpo_common.contracts import TaskOutcome, billing, intake, validation
from bpo_reporting.domain.buckets import hour_of
from bpo_reporting.domain.turnaround import turnaround_bin

Number = int | float | Decimal


class LedgerKind(StrEnum):
    """What billing's money line was: a client's usage (revenue) or an earning (cost)."""

    USAGE = "usage"
    EARNING = "earning"


# The rollups, each by the columns that make one of its rows.


@dataclass(frozen=True)
class HourlyKey:
    client_id: UUID
    work_type: str
    hour: datetime


@dataclass(frozen=True)
class TurnaroundKey:
    client_id: UUID
    work_type: str
    hour: datetime
    bin: int


@dataclass(frozen=True)
class MoneyKey:
    client_id: UUID
    work_type: str
    hour: datetime
    currency: str


@dataclass(frozen=True)
class ContractorKey:
    contractor_id: UUID
    hour: datetime


@dataclass(frozen=True)
class EarnerKey:
    contractor_id: UUID
    hour: datetime
    currency: str


RollupKey = HourlyKey | TurnaroundKey | MoneyKey | ContractorKey | EarnerKey


@dataclass(frozen=True)
class JobItems:
    """What to add to a job's item and document counters."""

    job_id: UUID
    client_id: UUID
    work_type: str
    received: int = 0
    completed: int = 0
    rejected: int = 0
    erased: int = 0
    documents: int = 0
    pages: int = 0
    # The latest completion, rejection or erasure among them.
    finished_at: datetime | None = None


def finished_per_job(
    events: Iterable[intake.ItemCompleted | intake.ItemRejected],
) -> list[JobItems]:
    """Each job's items that became completed, rejected or erased among `events`."""
    counts: dict[UUID, JobItems] = {}
    for event in events:
        known = counts.get(event.job_id, JobItems(event.job_id, event.client_id, event.work_type))
        completed = isinstance(event, intake.ItemCompleted)
        erased = isinstance(event, intake.ItemRejected) and event.erased
        at = event.completed_at if isinstance(event, intake.ItemCompleted) else event.rejected_at
        counts[event.job_id] = JobItems(
            known.job_id,
            known.client_id,
            known.work_type,
            completed=known.completed + completed,
            rejected=known.rejected + (not completed and not erased),
            erased=known.erased + erased,
            finished_at=max(at, known.finished_at or at),
        )
    return list(counts.values())


@dataclass(frozen=True)
class Increment:
    """Add `deltas` (column: amount) to the rollup row `key`, which starts at zero."""

    key: RollupKey
    deltas: Mapping[str, Number]


@dataclass(frozen=True)
class Settled:
    """An item whose turnaround just became known."""

    client_id: UUID
    work_type: str
    completed_at: datetime
    seconds: float


ENTRIES = {
    TaskOutcome.ACCEPTED: "entries_accepted",
    TaskOutcome.OVERTURNED: "entries_overturned",
    TaskOutcome.REJECTED: "entries_rejected",
}


def _hourly(client_id: UUID, work_type: str, moment: datetime) -> HourlyKey:
    return HourlyKey(client_id, work_type, hour_of(moment))


def items_received(event: intake.ItemsReceived, received: int) -> list[Increment]:
    """`received`: how many of the event's items were not received before."""
    if not received:
        return []
    key = _hourly(event.client_id, event.work_type, event.received_at)
    return [Increment(key, {"items_received": received})]


def item_completed(event: intake.ItemCompleted, first: bool) -> list[Increment]:
    if not first:
        return []
    key = _hourly(event.client_id, event.work_type, event.completed_at)
    return [Increment(key, {"items_completed": 1})]


def item_rejected(event: intake.ItemRejected, first: bool) -> list[Increment]:
    """An item closed because its data was erased before it was decided is no rejection of
    the work, nor work finished: it only leaves its job's backlog (finished_per_job)."""
    if not first or event.erased:
        return []
    key = _hourly(event.client_id, event.work_type, event.rejected_at)
    return [Increment(key, {"items_rejected": 1})]


def turnarounds(settled: Iterable[Settled]) -> list[Increment]:
    """One item in its turnaround bin, in the hour it was completed, per settled item."""
    return [
        Increment(
            TurnaroundKey(
                item.client_id,
                item.work_type,
                hour_of(item.completed_at),
                turnaround_bin(item.seconds),
            ),
            {"items": 1},
        )
        for item in settled
    ]


def job_completed(event: intake.JobCompleted, first: bool) -> list[Increment]:
    """A job with a due time counts as met or missed in the hour it completed."""
    if not first or event.due_at is None:
        return []
    on_time = event.completed_at <= event.due_at
    key = _hourly(event.client_id, event.work_type, event.completed_at)
    return [Increment(key, {"jobs_sla_met": int(on_time), "jobs_sla_missed": int(not on_time)})]


def task_submitted(event: intake.TaskSubmitted, first: bool) -> list[Increment]:
    if not first:
        return []
    seconds = max((event.submitted_at - event.claimed_at).total_seconds(), 0.0)
    key = ContractorKey(event.contractor_id, hour_of(event.submitted_at))
    deltas: dict[str, Number] = {"tasks_submitted": 1, "submit_seconds": seconds}
    if event.active_seconds is not None:
        # Time on task as the workbench measured it, and the fields it covered.
        deltas |= {
            "timed_tasks": 1,
            "active_seconds": event.active_seconds,
            "fields_keyed": fields_keyed(event),
        }
    return [Increment(key, deltas)]


def fields_keyed(event: intake.TaskSubmitted) -> int:
    """How many fields a keying gave: the event says so (it carries the values sealed); one
    published before it did carries the values themselves."""
    if event.fields_keyed is not None:
        return event.fields_keyed
    return len(event.data) if isinstance(event.data, dict) else 0


def expiry(event: intake.TaskExpired) -> tuple[UUID, int]:
    """What tells one expiry apart: its task, and the task's count of expiries with this one
    (a task may run out of time on several leases, one after the other)."""
    return event.task_id, event.attempts


def task_expired(event: intake.TaskExpired, first: bool) -> list[Increment]:
    if not first:
        return []
    key = ContractorKey(event.contractor_id, hour_of(event.expired_at))
    return [Increment(key, {"tasks_expired": 1})]


def contractor_scored(event: validation.ContractorScored, first: bool) -> list[Increment]:
    """The outcome and the fields judged, for the client's work (not a control copied into
    its job) and for the contractor."""
    if not first:
        return []
    deltas = {"fields_judged": event.fields_judged, "fields_correct": event.fields_correct}
    if event.outcome in ENTRIES:  # work a cancel left unjudged has no outcome to count
        deltas[ENTRIES[event.outcome]] = 1
    keyer = Increment(ContractorKey(event.contractor_id, hour_of(event.decided_at)), deltas)
    if event.control_copy:
        return [keyer]
    return [Increment(_hourly(event.client_id, event.work_type, event.decided_at), deltas), keyer]


def usage_recorded(event: billing.UsageRecorded, first: bool) -> list[Increment]:
    if not first:
        return []
    key = MoneyKey(event.client_id, event.work_type, hour_of(event.completed_at), event.currency)
    return [Increment(key, {"revenue": event.amount, "contractor_cost": Decimal(0)})]


def earning_recorded(event: billing.EarningRecorded, first: bool) -> list[Increment]:
    """An earning is the client's work's cost, and the contractor's earnings."""
    if not first:
        return []
    hour = hour_of(event.earned_at)
    return [
        Increment(
            MoneyKey(event.client_id, event.work_type, hour, event.currency),
            {"revenue": Decimal(0), "contractor_cost": event.amount},
        ),
        Increment(EarnerKey(event.contractor_id, hour, event.currency), {"amount": event.amount}),
    ]
