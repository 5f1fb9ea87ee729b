"""Events the intake service publishes."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from bpo_common.contracts.vocabulary import QcPolicy, TaskKind
from bpo_common.events import Event
from bpo_common.rules import FieldSpec, Match


class JobCreated(Event):
    event_type = "bpo.intake.job.created"

    job_id: UUID
    client_id: UUID
    work_type: str
    fields: list[FieldSpec]
    rules: list[str] = Field(default_factory=list)
    match: Match | None = None
    qc: QcPolicy
    priority: int
    due_at: datetime | None
    sla_hours: Decimal | None
    external_ref: str | None
    created_at: datetime

    @field_serializer("fields")
    def _specs_as_written(self, fields: list[FieldSpec]) -> list[dict[str, Any]]:
        """A field spec travels with the rules it sets, as the client wrote it."""
        return [spec.model_dump(mode="json", exclude_none=True) for spec in fields]


class ReceivedItem(BaseModel):
    """One item inside ItemsReceived (a value, not an event on its own)."""

    model_config = ConfigDict(frozen=True)

    item_id: UUID
    external_id: str | None
    golden: bool


class ItemsReceived(Event):
    """A batch of items was added to a job (at most a few thousand per event)."""

    event_type = "bpo.intake.items.received"

    job_id: UUID
    client_id: UUID
    work_type: str
    items: list[ReceivedItem]
    received_at: datetime


class DocumentsAdded(Event):
    """Documents were attached to a job (one upload: a file, or every file of a zip)."""

    event_type = "bpo.intake.documents.added"

    job_id: UUID
    client_id: UUID
    work_type: str
    documents: int
    pages: int
    added_at: datetime


class JobClosed(Event):
    """The client said no more items will come; the job completes when every item is final."""

    event_type = "bpo.intake.job.closed"

    job_id: UUID
    client_id: UUID
    closed_at: datetime


class JobCompleted(Event):
    event_type = "bpo.intake.job.completed"

    job_id: UUID
    client_id: UUID
    work_type: str
    due_at: datetime | None
    items_completed: int
    items_rejected: int
    completed_at: datetime


class JobCancelled(Event):
    event_type = "bpo.intake.job.cancelled"

    job_id: UUID
    client_id: UUID
    tasks_withdrawn: int
    cancelled_at: datetime


class Entry(BaseModel):
    """One contractor's keying of an item, as review and adjudication tasks carry it."""

    model_config = ConfigDict(frozen=True)

    task_id: UUID
    contractor_id: UUID
    data: dict[str, Any]
    # A keyer who could not read the item says why here (and `data` is empty).
    unreadable: str | None = None


class Suggested(BaseModel):
    """What the machine suggested for a field of an entry task: validation scores it as the
    machine's keying. `planted`: a deliberately wrong suggestion on a control item."""

    model_config = ConfigDict(frozen=True)

    value: Any
    confidence: float
    planted: bool = False


class TaskSubmitted(Event):
    """A contractor submitted a task; `data` is already checked against the job's rules."""

    event_type = "bpo.intake.task.submitted"

    task_id: UUID
    job_id: UUID
    item_id: UUID
    client_id: UUID
    work_type: str
    kind: TaskKind
    contractor_id: UUID
    data: dict[str, Any]
    # The known answer of a control item; validation scores the entry against it.
    golden: dict[str, Any] | None
    # How many entries the item gets (2 when double-keyed); validation decides after the last.
    entries_expected: int
    # In a verify job, the client's own values for the fields: the entry they are checked
    # against.
    client_values: dict[str, Any] | None = None
    # A reviewer or adjudicator who rejects the item says why here, and so does a keyer who
    # marks it unreadable (an entry task); `data` is then empty.
    rejection: str | None = None
    # Seconds the contractor was active on the task, as the workbench measured them.
    active_seconds: float | None = None
    # The file names of the documents the item is keyed from.
    documents: list[str] = Field(default_factory=list)
    # Entry tasks: the machine's suggestions the keyer was shown, and the layout extraction
    # matched the item's documents to.
    suggestions: dict[str, Suggested] = Field(default_factory=dict)
    layout_id: UUID | None = None
    claimed_at: datetime
    submitted_at: datetime


class TaskExpired(Event):
    event_type = "bpo.intake.task.expired"

    task_id: UUID
    job_id: UUID
    item_id: UUID
    client_id: UUID
    contractor_id: UUID
    attempts: int
    requeued: bool
    expired_at: datetime


class ItemCompleted(Event):
    event_type = "bpo.intake.item.completed"

    item_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    golden: bool
    fields: int
    result: dict[str, Any]
    completed_at: datetime


class ItemRejected(Event):
    event_type = "bpo.intake.item.rejected"

    item_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    reason: str
    rejected_at: datetime
