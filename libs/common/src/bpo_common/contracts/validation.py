"""Events the validation service publishes: its decisions and what it learns of contractors."""

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from bpo_common.contracts.intake import Entry
from bpo_common.contracts.sealed import Sealed
from bpo_common.contracts.vocabulary import ExceptionAction, TaskKind, TaskOutcome
from bpo_common.events import Event


class ControlKeying(BaseModel):
    """How the one keying of a control item (an item with a known answer) came out."""

    task_id: UUID
    contractor_id: UUID
    fields_judged: int
    fields_correct: int


class ItemAccepted(Event):
    """The item's result is decided. Version 2: `result` ({field: value}) is sealed with the
    job's data key. `control`: for a control item keyed once (a copy given at a claim or in a
    qualification), that keying against the known answer. `agreed`: the result is what two
    whole keyings agreed on, an adjudicator settling where they differed."""

    event_type = "bpo.validation.item.accepted"
    version = 2

    item_id: UUID
    job_id: UUID
    client_id: UUID
    result: Sealed
    control: ControlKeying | None = None
    agreed: bool = False
    decided_at: datetime


class ReviewRequired(Event):
    """A person with the qc skill must look: a sampled review, or two keyings that differ.
    Version 2: the entries' data is sealed with the job's data key. `reason` quotes no
    personal value; what keyers typed in it, and the values of other fields a reference check
    quotes (bpo_common.contracts.reasons), and the entries' `unreadable` an erasure of the
    item empties on the stream."""

    event_type = "bpo.validation.review.required"
    version = 2

    item_id: UUID
    job_id: UUID
    client_id: UUID
    kind: Literal[TaskKind.REVIEW, TaskKind.ADJUDICATION]
    entries: list[Entry]
    reason: str
    # An adjudication's places where its entries differ: fields, and a table's cells after
    # aligning its rows (`lines[3].qty`, `lines[1 of keying 2].qty`); none for a review.
    differing: list[str] = Field(default_factory=list)
    decided_at: datetime


class SecondKeyingRequired(Event):
    """Adaptive QC: the first keying alone is not trusted enough; another keyer must key it.
    `fields`: a partial second keying keys only these of the job's fields (those the first
    keyer is weak on), the result keeping the first keying's others; empty: the whole item."""

    event_type = "bpo.validation.keying.required"

    item_id: UUID
    job_id: UUID
    client_id: UUID
    reason: str
    fields: list[str] = Field(default_factory=list)
    decided_at: datetime


class KeyerTrustChanged(Event):
    """A keyer's first keyings on a work type became (or stopped being) among the least
    trusted (`doubtful`): intake then offers them second keyings first, as far as the queue
    allows, so that the keyers it trusts key items first. Item accuracies as adaptive QC
    estimates them."""

    event_type = "bpo.validation.keyer.trust_changed"

    contractor_id: UUID
    work_type: str
    doubtful: bool
    item_accuracy: float
    crew_item_accuracy: float
    decided_at: datetime


class JobAccuracyDelivered(Event):
    """An adaptive job completed: the accuracy it delivered, as validation estimates it (the
    share of the items adaptive QC ruled on expected right, each keyer at what is known of
    them then), with its two-sided 95 % interval, and whether the job met its target with
    95 % confidence (`assured`, the one-sided lower bound, at or above `target`). A
    job that did not is flagged: billing credits it, intake shows it with the job's results,
    reporting on the dashboard. Figures are null when adaptive QC ruled on no item."""

    event_type = "bpo.validation.job.accuracy_delivered"

    job_id: UUID
    client_id: UUID
    work_type: str
    target: Decimal
    items: int
    single_keyed: int
    keyed_twice: int
    estimate: float | None
    lower: float | None
    upper: float | None
    assured: float | None
    met: bool
    decided_at: datetime


class ItemRejected(Event):
    event_type = "bpo.validation.item.rejected"

    item_id: UUID
    job_id: UUID
    client_id: UUID
    # Fixed words and, for a rejection by a person, what they typed (bpo_common.contracts.
    # reasons): an erasure of the item keeps the fixed words on the stream.
    reason: str
    decided_at: datetime


class ContractorSuspended(Event):
    event_type = "bpo.validation.contractor.suspended"

    contractor_id: UUID
    reason: str
    suspended_at: datetime


class ContractorScored(Event):
    """An item is final: how one task's work on it came out.

    One per task (keying, review, adjudication) once the item is accepted or rejected; billing
    pays piece rates from it and reporting counts accuracy and productivity. Version 2: a task
    on an item its job's cancel or its erasure left undecided is scored `unjudged` (no field
    judged), then or when it is applied after.
    """

    event_type = "bpo.validation.contractor.scored"
    version = 2

    task_id: UUID
    item_id: UUID
    job_id: UUID
    client_id: UUID
    contractor_id: UUID
    work_type: str
    kind: TaskKind
    outcome: TaskOutcome
    golden: bool
    fields_judged: int
    fields_correct: int
    # The share of the job's fields the task keyed: under 1 for a partial second keying,
    # which earns that share of the piece rate.
    share: Decimal = Decimal(1)
    # The task keyed a control copied into the job (TaskSubmitted.control_copy): the keyer's
    # work, none of the client's.
    control_copy: bool = False
    # Seconds the contractor was active on the task, when the workbench measured them.
    active_seconds: float | None = None
    submitted_at: datetime
    decided_at: datetime


class ExceptionOpened(Event):
    """An invoice does not match its purchase order (or its receipts, or is a duplicate): the
    item waits for the client's accounts-payable team to resolve it. Version 2: `reasons`
    and `lines`, which quote the invoice's figures, are sealed with the job's data key."""

    event_type = "bpo.validation.exception.opened"
    version = 2

    exception_id: UUID
    item_id: UUID
    job_id: UUID
    client_id: UUID
    # The invoice as a whole: duplicate, no_order or mismatch.
    outcome: str
    # The reasons (a list of text), sealed.
    reasons: Sealed
    # Each invoice line's outcome, sealed: [{row, line, outcome, reasons, invoiced, ordered,
    # received}].
    lines: Sealed
    opened_at: datetime


class ExceptionResolved(Event):
    """A match exception was resolved; the item is accepted or rejected with it (validation
    publishes that too). `by_client`: the client's own people resolved it (billed then)."""

    event_type = "bpo.validation.exception.resolved"

    exception_id: UUID
    item_id: UUID
    job_id: UUID
    client_id: UUID
    action: ExceptionAction
    by_client: bool
    resolved_at: datetime
