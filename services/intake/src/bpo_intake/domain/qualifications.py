"""Qualifications: a work type may require one, a set of control items (those of one job).

Every job of such a work type requires the work type's name as a skill. A contractor without
it who claims entry work, when work of the type waits that only the skill keeps from them,
is given the set's items one claim at a time instead (copies, as controls injected at a
claim are: none of the client's work). When every copy of the attempt is judged, the
contractor passes with at least `pass_mark` of them right on every field, and gets the
skill; one who fails is offered the qualification again `retry_after_hours` later.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID


class AttemptOutcome(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


DEFAULT_PASS_MARK = Decimal("0.9")
DEFAULT_RETRY_AFTER_HOURS = 24


@dataclass(frozen=True)
class Offered:
    """A qualification a contractor may be offered at a claim, with their attempt at it still
    under way (None: a new one starts)."""

    work_type: str
    job_id: UUID
    attempt_id: UUID | None


@dataclass(frozen=True)
class Finish:
    """How an attempt ends once its last copy is judged: the outcome, and when a failed
    contractor may try again."""

    outcome: AttemptOutcome
    retry_at: datetime | None


def finish(
    right: int, items: int, pass_mark: Decimal, retry_after_hours: int, now: datetime
) -> Finish:
    """Passed with at least `pass_mark` of the `items` right; otherwise failed, to be tried
    again `retry_after_hours` from `now`."""
    if Decimal(right) >= pass_mark * items:
        return Finish(AttemptOutcome.PASSED, None)
    return Finish(AttemptOutcome.FAILED, now + timedelta(hours=retry_after_hours))
