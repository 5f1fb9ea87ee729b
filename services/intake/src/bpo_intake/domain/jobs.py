"""Jobs and their items: statuses, deadlines, how many keyings an item gets, progress."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from pydantic import field_validator

from bpo_common.contracts import QcMode, QcPolicy
from bpo_common.decimals import trimmed
from bpo_common.rules import FieldSpec
from bpo_common.rules.names import errors_at
from bpo_intake.domain.results import ITEM_COLUMNS

T = TypeVar("T")

# Items are announced in ItemsReceived events of at most this many.
ITEMS_PER_EVENT = 1000
# An append brings the queue's statistics up to date when it adds this many items or more, or
# at least ANALYZE_MIN_ITEMS that are a quarter or more of the tasks the statistics know of: a
# young table's statistics say it is all but empty, and the planner would take the queue for
# a few rows and sort it whole at every claim.
ANALYZE_AFTER_ITEMS = 5000
ANALYZE_MIN_ITEMS = 500
ANALYZE_GROWTH = 0.25


# A rate of a job's QC policy has at most this many decimal places.
RATE_PLACES = 6


class QcPolicyIn(QcPolicy):
    """A QC policy as a client asks for it: each rate to at most RATE_PLACES decimal places,
    and a target accuracy below 1 (no estimate can be sure that every item is right: a job
    asked for 1 would be keyed twice throughout and still fall short). What is stored and
    announced is read as QcPolicy, which takes what was asked before these limits."""

    @field_validator(
        "review_sample_rate",
        "target_accuracy",
        "suggestion_threshold",
        "wrong_suggestion_rate",
        "golden_rate",
    )
    @classmethod
    def _places(cls, value: Decimal) -> Decimal:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -RATE_PLACES:
            raise ValueError(f"at most {RATE_PLACES} decimal places")
        return trimmed(value)

    @field_validator("target_accuracy")
    @classmethod
    def _below_one(cls, value: Decimal) -> Decimal:
        if value >= 1:
            raise ValueError("must be below 1, such as 0.999")
        return value


class JobStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    # Validation opened a match exception (an invoice that does not match its order): the
    # item waits for the client to resolve it, which accepts or rejects it.
    EXCEPTION = "exception"
    COMPLETED = "completed"
    REJECTED = "rejected"


# An item in one of these has its outcome; no decision changes it again.
FINAL = (ItemStatus.COMPLETED, ItemStatus.REJECTED)


def due_at(sla_hours: Decimal | None, due: datetime | None, now: datetime) -> datetime | None:
    """A job's deadline: `sla_hours` after its creation, or the `due` time it was given."""
    if sla_hours is not None:
        return now + timedelta(seconds=int(sla_hours * 3600))
    return due


def entries_per_item(policy: QcPolicy) -> int:
    """How many contractors key each item before validation decides (adaptive and assisted
    start at one)."""
    return 2 if policy.mode is QcMode.DOUBLE else 1


def chunked(rows: Sequence[T], size: int) -> list[Sequence[T]]:
    """`rows` in consecutive pieces of at most `size`."""
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def progress(counts: Mapping[ItemStatus, int]) -> float:
    """The share of a job's items that are final (0 for a job without items)."""
    total = sum(counts.values())
    return sum(counts.get(status, 0) for status in FINAL) / total if total else 0.0


def statistics_outgrown(appended: int, known_tasks: float) -> bool:
    """Whether an append of `appended` items leaves the queue's statistics, which know of
    `known_tasks` tasks, too far behind to plan claims with."""
    if appended >= ANALYZE_AFTER_ITEMS:
        return True
    return appended >= ANALYZE_MIN_ITEMS and appended >= ANALYZE_GROWTH * known_tasks


def checked_fields(fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    """A job's fields; refused when there is none, or one is called as an item's own column
    in CSV results and appends (`ITEM_COLUMNS`: each such one named)."""
    if not fields:
        raise ValueError("a job needs at least one field")
    reserved = [
        (
            (n, "name"),
            f'"{field.name}" is a column of every item in CSV results and appends '
            f"({', '.join(ITEM_COLUMNS)}): call the field otherwise",
        )
        for n, field in enumerate(fields)
        if field.name in ITEM_COLUMNS
    ]
    if reserved:
        raise errors_at("JobCreate", reserved)
    return fields
