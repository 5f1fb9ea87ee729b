"""Control items injected at claim (`qc.golden_rate`): how often a claimed entry task gives
way to a control, and the control itself, a copy of one of the client's control items.

A keyer new to a work type, or one adaptive QC doubts on it, gets controls twice as often
(up to one claim in two), so that what is known of them firms up where it matters most.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common.crypto import DataKey
from bpo_common.rules import JobSpec, Personal
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.domain.tasks import check_keying

# A keyer with fewer entry tasks than this submitted on a work type is new to it.
NEW_KEYER_TASKS = 20
# The most a new or doubted keyer's rate is raised to; a higher golden rate stays as it is.
WARY_RATE_CAP = Decimal("0.5")


def chance(rate: Decimal, *, wary: bool) -> Decimal:
    """The chance a claimed entry task of a job with golden rate `rate` gives way to a
    control: doubled (up to WARY_RATE_CAP, never lowered) for a keyer new to the work type or
    doubted on it."""
    return max(rate, min(rate * 2, WARY_RATE_CAP)) if wary else rate


@dataclass(frozen=True)
class PoolItem:
    """A control item of the client's that a control can copy: its values sealed with the
    key of its own job."""

    id: UUID
    job_id: UUID
    source: dict[str, Any]
    golden: dict[str, Any]
    documents: list[UUID]
    layout_id: UUID | None
    suggestions: dict[str, Any] | None
    extracted_at: datetime | None
    # Its job's data key, wrapped (None: a job made before jobs had one).
    data_key: str | None


@dataclass(frozen=True)
class Resealer:
    """Values sealed with one job's key (the pool item's), sealed again with another's (the
    job the control goes into): both jobs have the same fields, so the same personal ones."""

    personal: Personal
    old: DataKey
    new: DataKey

    def record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return self.personal.map(record, lambda value: self.new.seal(self.old.open(value)))

    def suggestions(self, suggestions: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if suggestions is None:
            return None
        return {
            name: {**shown, "value": self.new.seal(self.old.open(shown["value"]))}
            if self.personal.covers(name) and shown.get("value") is not None
            else shown
            for name, shown in suggestions.items()
        }


def control_item(
    pool: PoolItem,
    job_id: UUID,
    client_id: UUID,
    reseal: Resealer,
    now: datetime,
    *,
    item_id: UUID,
    attempt_id: UUID | None = None,
) -> dict[str, Any]:
    """A new control item `item_id` of the job, copied from a pool item: the same source,
    documents and pre-fill, and its known answer; of a qualification attempt, when given. It
    starts in progress: its one task is leased at once."""
    return {
        "id": item_id,
        "job_id": job_id,
        "client_id": client_id,
        "external_id": None,
        "status": ItemStatus.IN_PROGRESS,
        "source": reseal.record(pool.source),
        "golden": reseal.record(pool.golden),
        "documents": pool.documents,
        "result": None,
        "created_at": now,
        "completed_at": None,
        "layout_id": pool.layout_id,
        "suggestions": reseal.suggestions(pool.suggestions),
        "extracted_at": pool.extracted_at,
        "control_of": pool.id,
        "attempt_id": attempt_id,
    }


def answer_fits(spec: JobSpec, answer: Mapping[str, Any]) -> bool:
    """Whether a control's known answer, as stored (canonical values), is one the claimed job
    takes: its rules read as its keyer's submit reads the values typed. Read as typed, a job
    whose decimal point is `,` would take the stored 1.500 for 1500."""
    return check_keying(spec.reading_canonical(), answer, None).valid
