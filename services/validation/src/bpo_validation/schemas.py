"""Request and response bodies of the validation API."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bpo_common.contracts import ExceptionAction, QcMode
from bpo_common.rules import JobSpec
from bpo_validation.domain.matching import ExceptionStatus, InvoiceOutcome
from bpo_validation.domain.verdicts import Outcome


class JobRulesOut(BaseModel):
    job_id: UUID
    client_id: UUID
    work_type: str
    fields: list[dict[str, Any]]
    rules: list[str]
    match: dict[str, Any] | None
    qc: dict[str, Any]
    received_at: datetime


class CheckRequest(JobSpec):
    """A dry run of the rule engine: field specs, cross-field rules and one record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: dict[str, Any]


class EntryOut(BaseModel):
    task_id: UUID
    kind: str
    contractor_id: UUID
    data: dict[str, Any]
    rejection: str | None
    keyed_fields: list[str] = Field(
        default_factory=list,
        description=(
            "a partial second keying (adaptive QC): the only fields it keyed, compared with the "
            "first keying's, whose other fields stand; empty: all of the job's"
        ),
    )
    submitted_at: datetime


class DecisionOut(BaseModel):
    outcome: Outcome
    reason: str
    result: dict[str, Any] | None
    comparison: list[dict[str, Any]]
    decided_at: datetime


class ItemDecision(BaseModel):
    item_id: UUID
    job_id: UUID
    documents: list[str] = Field(description="the file names of the documents keyed from")
    decision: Outcome
    reason: str
    result: dict[str, Any] | None
    comparison: list[dict[str, Any]]
    entries: list[EntryOut]
    history: list[DecisionOut]


class Score(BaseModel):
    judged: int
    correct: int
    accuracy: float | None


class KeyedScore(Score):
    key: str


class DayScore(Score):
    day: date


class LayoutScore(Score):
    layout_id: UUID
    field: str


class WrongPrefills(BaseModel):
    """Fields where the keyer was shown a pre-fill that was wrong, and how many they kept."""

    shown: int
    accepted: int
    rate: float | None = Field(description="accepted / shown: how often they click through")


class Quality(BaseModel):
    contractor_id: UUID
    overall: Score
    per_field: list[KeyedScore]
    per_work_type: list[KeyedScore]
    golden: Score
    trend: list[DayScore]
    wrong_prefills: WrongPrefills
    per_layout: list[LayoutScore] = Field(
        description="the machine's judged fields by the layout it read them by (else empty)"
    )
    suspended_at: datetime | None
    suspension_reason: str | None


class ReferenceDatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    client_id: UUID
    key_column: str
    columns: list[str]
    row_count: int
    uploaded_at: datetime


class ExceptionOut(BaseModel):
    """An invoice that did not match its purchase order, and how it was resolved."""

    id: UUID
    item_id: UUID
    job_id: UUID
    client_id: UUID
    status: ExceptionStatus
    outcome: InvoiceOutcome = Field(
        description="the invoice as a whole: duplicate, no_order (none named or found) or mismatch"
    )
    reasons: list[str]
    lines: list[dict[str, Any]] = Field(
        description="each invoice line: {row, line, outcome, reasons, invoiced, ordered, received}"
    )
    result: dict[str, Any] = Field(description="the invoice as keyed")
    opened_at: datetime
    action: ExceptionAction | None
    data: dict[str, Any] | None
    note: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class ExceptionResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ExceptionAction
    data: dict[str, Any] | None = Field(
        default=None,
        description="with `correct`: the fields to change (a table whole), checked as a keying",
    )
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class JobAccuracyOut(BaseModel):
    """The accuracy a job delivers: the share of its items expected right, as adaptive QC
    keeps count (items it ruled on; control items, items reviewed for their rules or marked
    unreadable aside), with the two-sided 95 % interval. Null figures: no item ruled on yet,
    or the job is not adaptive (only adaptive QC keeps this count). Once the job completed,
    the figures it was said to deliver then, no longer valued again."""

    job_id: UUID
    mode: QcMode
    target: Decimal = Field(description="the job's qc.target_accuracy")
    method: str = Field(
        description="how the estimate is made: `beta-posterior-ledger` (each item's chance of "
        "being right from the Beta posteriors of its keyers, summed over the job)"
    )
    judged: int = Field(
        description="the judged fields on the work type the estimate rests on (control "
        "items, second keyings, reviews and adjudications judge them)"
    )
    items: int = Field(description="items adaptive QC ruled on")
    single_keyed: int = Field(description="of those, accepted from one keying")
    keyed_twice: int = Field(description="of those, keyed a second time")
    estimate: float | None = Field(description="the share of those items expected right")
    lower: float | None = Field(description="the 95 % interval's lower end")
    upper: float | None = Field(description="the 95 % interval's upper end")
    assured: float | None = Field(
        description="the one-sided 95 % lower bound: what the job delivers with 95 % confidence"
    )
    meets_target: bool | None = Field(
        description="whether `assured` is at or above the target (false once the job "
        "completed: flagged, and credited as the price book says)"
    )
    updated_at: datetime | None
    delivered_at: datetime | None = Field(
        description="when the job completed and what it delivered was announced: the "
        "figures since are those announced"
    )
