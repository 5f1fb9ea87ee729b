"""Events the intake service publishes."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from bpo_common.contracts.sealed import Sealed
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
    # A control copied into the job at a claim or for a qualification: none of the client's
    # work (not in its counts, not billed); absent from events before it was announced.
    control_copy: bool = False


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
    # The keyed fields ({field: value}), sealed.
    data: Sealed
    # A keyer who could not read the item says why here (and `data` is empty); an erasure of
    # the item empties it on the stream ("", still marked unreadable).
    unreadable: str | None = None


class Suggested(BaseModel):
    """What the machine suggested for a field of an entry task: validation scores it as the
    machine's keying. `planted`: a deliberately wrong suggestion on a control item."""

    model_config = ConfigDict(frozen=True)

    value: Sealed
    confidence: float
    planted: bool = False


class TaskSubmitted(Event):
    """A contractor submitted a task; `data` is already checked against the job's rules.
    Version 2: the values (`data`, `golden`, `client_values`, the suggestions' values, and
    the documents' names) are sealed with the job's data key."""

    event_type = "bpo.intake.task.submitted"
    version = 2

    task_id: UUID
    job_id: UUID
    item_id: UUID
    client_id: UUID
    work_type: str
    kind: TaskKind
    contractor_id: UUID
    # The keyed fields ({field: value}), sealed.
    data: Sealed
    # How many fields `data` gives (for reports, which do not open it).
    fields_keyed: int | None = None
    # A partial second keying (validation's SecondKeyingRequired.fields): the only fields the
    # task asked for, and so the only ones `data` gives; empty: all of the job's.
    keyed_fields: list[str] = Field(default_factory=list)
    # The known answer of a control item, sealed; validation scores the entry against it.
    golden: Sealed | None
    # How many entries the item gets (2 when double-keyed); validation decides after the last.
    entries_expected: int
    # In a verify job, the client's own values for the fields (sealed): the entry they are
    # checked against.
    client_values: Sealed | None = None
    # A reviewer or adjudicator who rejects the item says why here, and so does a keyer who
    # marks it unreadable (an entry task); `data` is then empty. Typed text, in clear: an
    # erasure of the item empties it on the stream ("", still a rejection).
    rejection: str | None = None
    # Seconds the contractor was active on the task, as the workbench measured them.
    active_seconds: float | None = None
    # The file names of the documents the item is keyed from (a list), sealed: a name may be
    # personal. An empty list goes as it is; an event from before names were sealed carries
    # the list itself, and an erased item's event on the stream carries null.
    documents: Sealed | list[str] | None = Field(default_factory=list)
    # Entry tasks: the machine's suggestions the keyer was shown, and the layout extraction
    # matched the item's documents to.
    suggestions: dict[str, Suggested] = Field(default_factory=dict)
    layout_id: UUID | None = None
    # A copy given in a qualification attempt: judged for the attempt alone, not held to the
    # quality floor nor counted in the keyer's record (one who fails may try again).
    qualification: bool = False
    # A control copied into the job at a claim or for a qualification (ReceivedItem's
    # control_copy): none of the client's work.
    control_copy: bool = False
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
    """An item is final with its result, which stays in intake (the client reads it there):
    version 2 no longer carries it."""

    event_type = "bpo.intake.item.completed"
    version = 2

    item_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    golden: bool
    fields: int
    completed_at: datetime
    # A control copy (see ReceivedItem.control_copy).
    control_copy: bool = False


# Why an item whose data was erased before its outcome was rejected.
ERASED_REASON = "erased: its data was erased before it was decided"


class ItemRejected(Event):
    event_type = "bpo.intake.item.rejected"

    item_id: UUID
    job_id: UUID
    client_id: UUID
    work_type: str
    # Validation's reason (bpo_common.contracts.reasons): an erasure of the item keeps its
    # fixed words on the stream and empties what a person typed in it.
    reason: str
    rejected_at: datetime
    # A control copy (see ReceivedItem.control_copy).
    control_copy: bool = False
    # Closed because its data was erased before it was decided: nobody judged the work.
    # Events sent before it was told say so by their reason only.
    erased: bool = False

    @model_validator(mode="before")
    @classmethod
    def _erased_by_reason(cls, data: Any) -> Any:
        if isinstance(data, dict) and "erased" not in data:
            return {**data, "erased": data.get("reason") == ERASED_REASON}
        return data


class ContractorReactivated(Event):
    """A manager gave a suspended contractor work again: validation clears its suspension and
    judges them afresh from `reactivated_at`."""

    event_type = "bpo.intake.contractor.reactivated"

    contractor_id: UUID
    reactivated_at: datetime


class DataErased(Event):
    """A client or an admin asked for a job's data (`item_ids` None) or some of its items' to
    be erased: intake erased what it holds (and, for a job, its data key); every other service
    erases its own and answers with its ErasureDone."""

    event_type = "bpo.intake.data.erased"

    erasure_id: UUID
    job_id: UUID
    client_id: UUID
    item_ids: list[UUID] | None
    requested_at: datetime


# Validation asks intake for jobs' data keys over core NATS request and reply: never on the
# stream (whose subjects are `bpo.>`), and only wrapped by the key-encryption key both hold.
DATA_KEYS_SUBJECT = "rpc.intake.data_keys"


class DataKeysRequest(BaseModel):
    """The jobs whose data keys are asked for."""

    job_ids: list[UUID] = Field(max_length=1000)


class DataKeysReply(BaseModel):
    """Each job's data key, wrapped (`dek:v1:...`); a job intake does not know is left out."""

    keys: dict[UUID, str]
