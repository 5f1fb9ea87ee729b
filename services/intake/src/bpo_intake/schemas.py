"""Request and response bodies of the intake API."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from bpo_common.clock import Instant
from bpo_common.contracts import QcPolicy, TaskKind
from bpo_common.decimals import Trimmed
from bpo_common.rules import MAX_FIELDS, WORK_TYPE_PATTERN, FieldSpec, JobSpec, Match
from bpo_common.rules.names import NAME_CHARACTERS, WORK_TYPE_LENGTH
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.items import ItemIn
from bpo_intake.domain.jobs import ItemStatus, JobStatus, QcPolicyIn, checked_fields
from bpo_intake.domain.qualifications import (
    DEFAULT_PASS_MARK,
    DEFAULT_RETRY_AFTER_HOURS,
    AttemptOutcome,
)
from bpo_intake.domain.webhooks import WebhookDeliveryStatus

Name = Annotated[str, Field(min_length=1, max_length=200)]
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]

MAX_ITEMS_IN_BODY = 10_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientCreate(Strict):
    name: Name
    webhook_url: HttpUrl | None = None


class ClientCreated(BaseModel):
    id: UUID
    name: str
    webhook_url: str | None
    webhook_secret: str
    created_at: datetime


# As long as a work type's name (a qualification grants one), beginning with any character.
Skill = Annotated[str, Field(pattern=rf"^[{NAME_CHARACTERS}]{{1,{WORK_TYPE_LENGTH}}}$")]


class JobCreate(JobSpec):
    """A job: its field specs and cross-field rules (checked by the rule engine), QC, SLA."""

    fields: Annotated[tuple[FieldSpec, ...], Field(max_length=MAX_FIELDS)]
    work_type: Annotated[str, Field(pattern=WORK_TYPE_PATTERN)]
    qc: QcPolicyIn = QcPolicyIn()
    due_at: Instant | None = None
    sla_hours: Annotated[Decimal, Field(gt=0, le=8760, decimal_places=2), Trimmed] | None = None
    priority: Annotated[int, Field(ge=0, le=100)] = 50
    required_skills: Annotated[list[Skill], Field(max_length=100)] = Field(default_factory=list)
    external_ref: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    instructions: Annotated[str, Field(min_length=1, max_length=20_000)] | None = Field(
        default=None,
        description="what keyers should know, in Markdown (raw HTML is shown as text)",
    )
    items: Annotated[list[ItemIn], Field(max_length=MAX_ITEMS_IN_BODY, default_factory=list)]

    @field_validator("fields")
    @classmethod
    def _fields(cls, fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
        # Checked here, not with min_length, which also fires when a field is merely invalid.
        return checked_fields(fields)

    @field_validator("sla_hours")
    @classmethod
    def _one_deadline(cls, sla_hours: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if sla_hours is not None and info.data.get("due_at") is not None:
            raise ValueError("give due_at or sla_hours, not both")
        return sla_hours


class ItemCounts(BaseModel):
    pending: int = 0
    in_progress: int = 0
    in_review: int = 0
    exception: int = 0
    completed: int = 0
    rejected: int = 0
    total: int = 0


class JobAccuracyOut(BaseModel):
    """The accuracy an adaptive job delivered, as validation estimated it once the job
    completed: the share of the items adaptive QC ruled on expected right, with its two-sided
    95 % interval. Figures are null when adaptive QC ruled on no item."""

    target: Decimal = Field(description="the job's qc.target_accuracy")
    estimate: float | None = Field(description="the share of the items expected right")
    lower: float | None = Field(description="the 95 % interval's lower end")
    upper: float | None = Field(description="the 95 % interval's upper end")
    assured: float | None = Field(description="the one-sided 95 % lower bound")
    met: bool = Field(description="`assured` at or above the target; false: the job is flagged")
    items: int = Field(description="items adaptive QC ruled on")
    single_keyed: int = Field(description="of those, accepted from one keying")
    keyed_twice: int = Field(description="of those, keyed a second time")
    decided_at: datetime


class JobOut(BaseModel):
    id: UUID
    client_id: UUID
    status: JobStatus
    work_type: str
    fields: list[dict[str, Any]]
    rules: list[str]
    match: Match | None = Field(description="how validation matches invoice lines to orders")
    qc: QcPolicy
    due_at: datetime | None
    sla_hours: Decimal | None
    priority: int
    required_skills: list[str]
    external_ref: str | None
    instructions: str | None
    counts: ItemCounts
    progress: float
    created_at: datetime
    completed_at: datetime | None
    accuracy: JobAccuracyOut | None = Field(
        default=None, description="what an adaptive job delivered, once validation said it"
    )


class DocumentName(BaseModel):
    id: UUID
    filename: str


class SuggestionOut(BaseModel):
    """Machine pre-fill for a field: the value read on the documents, how sure extraction is
    (0 to 1), and where: the document, its page and the boxes of the words (fractions of the
    page from its top left: x0, y0, x1, y1)."""

    value: Any
    confidence: float
    document_id: UUID | None
    page: int
    boxes: list[list[float]]


class ItemSuggestionOut(SuggestionOut):
    planted: bool = Field(default=False, description="a wrong pre-fill on a control item")


class OpenException(BaseModel):
    """A match exception waiting for the client: resolve it on validation by its id."""

    id: UUID
    reasons: list[str]


class ItemOut(BaseModel):
    id: UUID
    job_id: UUID
    external_id: str | None
    status: ItemStatus
    source: dict[str, Any]
    documents: list[DocumentName] = Field(description="the documents it is keyed from")
    result: dict[str, Any] | None
    flagged_reason: str | None
    exception: OpenException | None = Field(
        default=None,
        description="while the status is `exception`: why its invoice does not match its order",
    )
    completed_at: datetime | None
    layout_id: UUID | None = Field(
        default=None, description="the layout extraction matched its documents to"
    )
    suggestions: dict[str, ItemSuggestionOut] = Field(
        default_factory=dict, description="machine pre-fill per field, once extraction ran"
    )


class ItemsAccepted(BaseModel):
    accepted: int


class DocumentOut(BaseModel):
    """A stored document, as its upload answers."""

    id: UUID
    job_id: UUID
    filename: str
    media_type: str
    size: int
    sha256: str
    pages: int


class DocumentsOut(BaseModel):
    """The documents of a zip, in the zip's order."""

    documents: list[DocumentOut]


class PageOut(BaseModel):
    number: int
    width: int = Field(description="of the page image, in pixels")
    height: int
    image_url: str = Field(description="a path on this service, signed; it expires")
    words_url: str = Field(description="the page's words and their boxes, signed the same way")


class WordOut(BaseModel):
    text: str
    box: list[float] = Field(description="x0, y0, x1, y1: fractions of the page from its top left")
    confidence: float = Field(description="how sure OCR was, 0 to 1 (1 for a text layer)")


class PageWords(BaseModel):
    """A page's words: its PDF text layer, or what OCR read (none when it could read none)."""

    document_id: UUID
    number: int
    words: list[WordOut]


class DocumentPages(BaseModel):
    """A document as a task shows it: its pages' images."""

    id: UUID
    filename: str
    pages: list[PageOut]


class DocumentView(DocumentPages):
    """A document's metadata and its pages' images (none once deleted)."""

    job_id: UUID
    media_type: str
    size: int
    sha256: str
    created_at: datetime
    rendered_at: datetime | None = Field(description="when the page images were made")
    deleted_at: datetime | None = Field(description="when retention deleted its bytes")


# Contractors and tasks


class ContractorCreate(Strict):
    name: Name
    skills: Annotated[list[Skill], Field(max_length=100)] = []


class ContractorOut(BaseModel):
    id: UUID
    name: str
    skills: list[str]
    status: ContractorStatus
    status_reason: str | None
    created_at: datetime


Reason = Annotated[str, Field(min_length=1, max_length=1000)]


class StatusReason(Strict):
    reason: Reason


class ClaimRequest(Strict):
    limit: Annotated[int, Field(ge=1, le=50)] = 1
    kinds: Annotated[list[TaskKind], Field(min_length=1)] = list(TaskKind)
    job_id: UUID | None = Field(default=None, description="only tasks of this job")


class TaskOut(BaseModel):
    id: UUID
    kind: TaskKind
    job_id: UUID
    item_id: UUID
    work_type: str
    fields: list[dict[str, Any]]
    rules: list[str]
    instructions: str | None = Field(description="the job's, in Markdown")
    source: dict[str, Any]
    documents: list[DocumentPages] = Field(default_factory=list)
    suggestions: dict[str, SuggestionOut] = Field(
        default_factory=dict,
        description="entry tasks: machine pre-fill per field, where extraction ran",
    )
    entries: list[dict[str, Any]] | None
    differing: list[str] = Field(
        default_factory=list,
        description="adjudications: fields and cells the entries differ on, rows aligned: "
        "`lines[3].qty` (`lines[1 of keying 2].qty`: a row only the second entry has)",
    )
    reason: str | None = Field(default=None, description="why validation asked for a review")
    keyed_fields: list[str] | None = Field(
        default=None, description="a partial second keying: the only fields to key; null: all"
    )
    lease_expires_at: datetime


class ClaimResponse(BaseModel):
    tasks: list[TaskOut]


class SubmitRequest(Strict):
    data: dict[str, Any] = Field(default_factory=dict)
    reject: Reason | None = Field(
        default=None, description="reviews and adjudications: reject the item (data is ignored)"
    )
    unreadable: Reason | None = Field(
        default=None, description="entry tasks: why it cannot be keyed (data ignored; to review)"
    )
    active_seconds: float | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="seconds the contractor was active on the task (focus and input, not idle)",
    )


class DraftIn(Strict):
    data: dict[str, Any] = Field(
        description="the fields keyed so far; those left out are not required yet"
    )


class Lease(BaseModel):
    task_id: UUID
    lease_expires_at: datetime


class QualificationIn(Strict):
    job_id: UUID = Field(description="the job whose control items are the set")
    pass_mark: Annotated[Decimal, Field(gt=0, le=1, decimal_places=4), Trimmed] = DEFAULT_PASS_MARK
    retry_after_hours: Annotated[int, Field(ge=0, le=8760)] = DEFAULT_RETRY_AFTER_HOURS


class QualificationOut(QualificationIn):
    work_type: str
    items: int = Field(description="control items in the set")
    updated_at: datetime


class AttemptOut(BaseModel):
    work_type: str
    outcome: AttemptOutcome
    items: int
    answered: int = Field(description="keyed and judged so far")
    right: int
    started_at: datetime
    finished_at: datetime | None
    retry_at: datetime | None = Field(description="failed: when it is offered again")


class Submitted(BaseModel):
    task_id: UUID
    item_id: UUID
    data: dict[str, Any]
    submitted_at: datetime


class WebhookUrlUpdate(Strict):
    webhook_url: HttpUrl | None = Field(description="where events go; null stops sending them")


class ClientWebhook(BaseModel):
    client_id: UUID
    webhook_url: str | None


class WebhookAttemptOut(BaseModel):
    id: UUID
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryOut(BaseModel):
    id: UUID
    client_id: UUID
    event_type: str
    status: WebhookDeliveryStatus
    url: str
    payload: dict[str, Any]
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class WebhookDeliveryDetail(WebhookDeliveryOut):
    attempts: list[WebhookAttemptOut]
