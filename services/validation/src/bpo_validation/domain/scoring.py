"""Keeping score: accuracy, the quality floor, and how each task on a final item came out."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bpo_common.contracts import TaskKind, TaskOutcome


def accuracy(correct: int, judged: int) -> float | None:
    return correct / judged if judged else None


@dataclass(frozen=True)
class Window:
    """A keyer's most recent judged fields on a work type, as many as the window holds."""

    judged: int
    correct: int

    @classmethod
    def latest(cls, fields: Sequence[bool], size: int) -> "Window":
        """The window over judged fields given oldest first (each right or wrong)."""
        kept = fields[-size:] if size > 0 else []
        return cls(len(kept), sum(kept))


def suspension(
    work_type: str, window: Window, *, suspended: bool, floor: float, min_judged: int
) -> str | None:
    """Why a keyer is suspended now, with this window of their judged fields on the work type
    of what was just judged, or None.

    A keyer is suspended when at least `min_judged` judged fields fill the window and their
    accuracy over it is below the floor; not while they already are (`suspended`)."""
    rate = accuracy(window.correct, window.judged)
    if suspended or window.judged < min_judged or rate is None or rate >= floor:
        return None
    # Rounded down, as the floor is not: 84.96 % is 84.9 % below a floor of 85 %, not 85.0 %.
    shown = math.floor(rate * 1000) / 1000
    return (
        f"accuracy {shown:.1%} over the last {window.judged} judged fields on {work_type} "
        f"is below the floor {floor:.1%}"
    )


def reactivation_applies(
    reactivated_at: datetime, *, suspended_at: datetime | None, last_reactivated_at: datetime | None
) -> bool:
    """Whether a manager's reactivation clears the keyer's suspension and restarts their
    windows: not when they were suspended after it (that suspension stands; intake hears of
    it after the reactivation and suspends them again), nor when a later one already did."""
    if suspended_at is not None and suspended_at > reactivated_at:
        return False
    return last_reactivated_at is None or last_reactivated_at < reactivated_at


# A task's share of its job's fields, to four places (billing pays a piece rate in it).
SHARE_PLACES = Decimal("0.0001")


def keyed_share(keyed: int, fields: int) -> Decimal:
    """The share of the job's `fields` a task keyed: 1 when it keyed all of them (`keyed` 0:
    no partial second keying), else `keyed` of them, to four places, rounded half up."""
    if not keyed or not fields or keyed >= fields:
        return Decimal(1)
    return (Decimal(keyed) / fields).quantize(SHARE_PLACES, rounding=ROUND_HALF_UP)


def task_outcome(
    kind: TaskKind, judged: int, correct: int, *, rejected: bool, unreadable: bool = False
) -> TaskOutcome:
    """How a task's work on a final item came out (billing pays on it).

    A keying stands when every judged field was right, and is overturned otherwise, as is one
    that marked the item `unreadable` when it was keyed after all; on a rejected item no
    keying stands. A review or adjudication is the final word: it stands.
    """
    if kind is TaskKind.ENTRY and rejected:
        return TaskOutcome.REJECTED
    if kind is TaskKind.ENTRY and (correct < judged or unreadable):
        return TaskOutcome.OVERTURNED
    return TaskOutcome.ACCEPTED
