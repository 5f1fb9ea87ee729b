"""Tables the intake service owns."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Numeric, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.contracts import TaskKind
from bpo_common.db import JSON_TYPES, enum_column, new_metadata
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.jobs import ItemStatus, JobStatus
from bpo_intake.domain.qualifications import AttemptOutcome
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.domain.webhooks import WebhookDeliveryStatus


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = JSON_TYPES


metadata = Base.metadata


class Client(Base):
    __tablename__ = "client"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Days after a job ended that its data is erased; None: the service's default.
    retention_days: Mapped[int | None]


class Contractor(Base):
    __tablename__ = "contractor"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[list[str]]
    status: Mapped[ContractorStatus] = mapped_column(enum_column(ContractorStatus))
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When a manager last gave them work again: validation's suspensions before it are void.
    reactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyerRoute(Base):
    """Whether validation doubts a keyer's first keyings on a work type (KeyerTrustChanged):
    such a keyer is offered second keyings first, and where one is, the others first keyings."""

    __tablename__ = "keyer_route"
    __table_args__ = (
        Index("ix_keyer_route_doubtful", "work_type", postgresql_where=text("doubtful")),
    )

    contractor_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    doubtful: Mapped[bool]
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Qualification(Base):
    """A work type's qualification: its set is the control items of `job_id`."""

    __tablename__ = "qualification"

    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    pass_mark: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    retry_after_hours: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QualificationAttempt(Base):
    __tablename__ = "qualification_attempt"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    contractor_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome))
    items: Mapped[int]
    answered: Mapped[int]
    right: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    __tablename__ = "job"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(ForeignKey("client.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus))
    work_type: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[dict[str, Any]]]
    rules: Mapped[list[str]]
    # How validation matches an invoice's lines against purchase orders (bpo_common's Match).
    match: Mapped[dict[str, Any] | None]
    qc: Mapped[dict[str, Any]]
    priority: Mapped[int]
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    required_skills: Mapped[list[str]]
    external_ref: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)  # what keyers should know, in Markdown
    # Its data key, wrapped by a KEK (bpo_common.crypto): it seals its personal values here and
    # on the stream (None on a job made before jobs had one, till used).
    data_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobAccuracy(Base):
    """What an adaptive job delivered as validation estimated it at its end; `met` False: under
    its target with 95 % confidence (flagged). Figures None: adaptive QC ruled on no item."""

    __tablename__ = "job_accuracy"

    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"), primary_key=True)
    target: Mapped[Decimal] = mapped_column(Numeric)
    items: Mapped[int]
    single_keyed: Mapped[int]
    keyed_twice: Mapped[int]
    estimate: Mapped[float | None]
    lower: Mapped[float | None]
    upper: Mapped[float | None]
    assured: Mapped[float | None]  # the one-sided 95 % lower bound the target is held to
    met: Mapped[bool]
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        Index("ix_item_job_id_status", "job_id", "status"),
        # Extraction walks the items with documents unread, and those since accepted (to learn).
        Index(
            "ix_item_unextracted",
            "id",
            postgresql_where=text("extracted_at IS NULL AND documents <> '{}'"),
        ),
        Index("ix_item_learn_pending", "id", postgresql_where=text("learn_pending")),
        # A claim's control comes from the client's controls, less those the keyer keyed a copy of.
        Index(
            "ix_item_control_pool",
            "client_id",
            postgresql_where=text("golden IS NOT NULL AND control_of IS NULL"),
        ),
        Index("ix_item_control_of", "control_of", postgresql_where=text("control_of IS NOT NULL")),
        Index("ix_item_agreed_pool", "client_id", "id", postgresql_where=text("agreed")),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    client_id: Mapped[UUID]
    external_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus))
    source: Mapped[dict[str, Any]]
    golden: Mapped[dict[str, Any] | None]
    # The documents of the job it is keyed from, in the order the client named them.
    documents: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid), server_default=text("'{}'"))
    result: Mapped[dict[str, Any] | None]
    # Set when the item needs a person: its tasks kept expiring, or a decision said so.
    flagged_reason: Mapped[str | None] = mapped_column(Text)
    # While it waits for the client (`exception`): validation's match exception, and why.
    exception_id: Mapped[UUID | None]
    exception_reasons: Mapped[list[str] | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Pre-fill: its documents' layout, suggestions ({field: {value, confidence, document_id,
    # page, boxes, planted?}}), when made, whether its result is to be learned.
    layout_id: Mapped[UUID | None]
    suggestions: Mapped[dict[str, Any] | None]
    extracted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    learn_pending: Mapped[bool] = mapped_column(server_default=text("false"))
    control_of: Mapped[UUID | None]  # a control (none of the client's work): the item it copies
    attempt_id: Mapped[UUID | None]  # of a qualification attempt, when a copy given in one
    # Two keyers agreed on its result, and its client lets it be a control's answer.
    agreed: Mapped[bool] = mapped_column(server_default=text("false"))


UNRENDERED = text("rendered_at IS NULL AND deleted_at IS NULL")
UNSWEPT = text("deleted_at IS NOT NULL AND swept_at IS NULL")


class Document(Base):
    """A file attached to a job; its bytes stored once per client, `<client>/<sha256>/original`."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_job_id_filename", "job_id", "filename", unique=True),
        Index("ix_document_client_id_sha256", "client_id", "sha256"),
        # The renderer walks the unrendered documents, the sweeper deleted ones with bytes left.
        Index("ix_document_unrendered", "id", postgresql_where=UNRENDERED),
        Index("ix_document_unswept", "id", postgresql_where=UNSWEPT),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    client_id: Mapped[UUID]
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when retention or an erasure deleted it (the row stays); `swept_at` once its bytes go.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    swept_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Renders started, as DocumentPage's reads (RENDER_ATTEMPTS: then rendered without images).
    render_attempts: Mapped[int] = mapped_column(server_default="0")
    render_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DocumentPage(Base):
    """A page of a document: its web image's size, and a PDF's text layer and words."""

    __tablename__ = "document_page"
    # OCR walks the pages whose words are still to be read.
    __table_args__ = (
        Index("ix_document_page_unread", "document_id", postgresql_where=text("read_at IS NULL")),
    )

    document_id: Mapped[UUID] = mapped_column(ForeignKey("document.id"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    width: Mapped[int]
    height: Mapped[int]
    text: Mapped[str | None] = mapped_column(Text)
    # Read words: [{"text", "box": [x0, y0, x1, y1] in page fractions from top left, "confidence"}]
    words: Mapped[list[dict[str, Any]] | None]
    # When its words were read (or OCR gave up on it); NULL: OCR is still to run.
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Reads started, each counted as it starts; after READ_ATTEMPTS, it has no words. Until
    # `read_claimed_until`, the reader that claimed it reads it, and others pass it over.
    read_attempts: Mapped[int] = mapped_column(server_default="0")
    read_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Layout(Base):
    """A layout of a client's documents (one supplier's invoice, say): how often each word of a
    first page was seen at its place on them (the frequent: its fixed text), that place, and
    where each field's values were printed, as extraction learned. Never shared by clients."""

    __tablename__ = "extraction_layout"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    tokens: Mapped[dict[str, Any]]
    # Each word's place in tokens, [x, y] (its centre, in fractions of the page).
    places: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'"))
    documents: Mapped[int]
    learned: Mapped[int] = mapped_column(server_default=text("0"))
    model: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


QUEUED = text("status = 'queued'")
QUEUE_ORDER = (text("due_at NULLS LAST"), text("priority DESC"), "id")
KEYED = text("kind = 'entry' AND submitted_by IS NOT NULL")


class Task(Base):
    """A unit of work a contractor claims: keying an item, reviewing or adjudicating it."""

    __tablename__ = "task"
    __table_args__ = (
        # A claim walks the queued tasks of each kind and role (first or second keying) in order.
        Index("ix_task_queue", "kind", "rekey", *QUEUE_ORDER, postgresql_where=QUEUED),
        Index("ix_task_item_id", "item_id"),
        Index("ix_task_lease", "lease_expires_at", postgresql_where=text("status = 'leased'")),
        # Whether a doubted keyer is at work (holds a lease): a claim asks.
        Index("ix_task_leased_by", "contractor_id", postgresql_where=text("status = 'leased'")),
        # How many items a keyer has keyed on a work type (a new keyer gets more controls).
        Index("ix_task_keyer", "submitted_by", postgresql_where=KEYED),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    item_id: Mapped[UUID] = mapped_column(ForeignKey("item.id"))
    client_id: Mapped[UUID]
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind))
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus))
    required_skills: Mapped[list[str]]
    # Earlier deadlines first, then higher priority; no deadline sorts last.
    priority: Mapped[int]
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contractor_id: Mapped[UUID | None]
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    entries: Mapped[list[dict[str, Any]] | None]
    # An adjudication's places where its entries differ (`total`, `lines[3].qty`).
    differing: Mapped[list[str]] = mapped_column(server_default=text("'[]'::jsonb"))
    reason: Mapped[str | None] = mapped_column(Text)  # a review's: why validation asked for it
    rekey: Mapped[bool] = mapped_column(server_default=text("false"))  # adaptive QC's 2nd keying
    keyed_fields: Mapped[list[str] | None]  # a partial second keying's only fields (None: all)
    data: Mapped[dict[str, Any] | None]
    submitted_by: Mapped[UUID | None]
    active_seconds: Mapped[float | None]  # the contractor's active seconds, as measured
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A task given up on (its lease kept expiring): when a requeue made it afresh.
    requeued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event on its way to a client's webhook URL, retried until delivered or out of time."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The sender walks pending deliveries by when they are due.
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_delivery_client_id", "client_id", "id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(ForeignKey("client.id"))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    # The URL of the latest attempt: a pending delivery follows the client's current URL.
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[WebhookDeliveryStatus] = mapped_column(enum_column(WebhookDeliveryStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    # None once delivered or failed; pushed forward while a sender holds it.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(Base):
    """One try at sending a delivery, as the client sees it in the API."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery_id", "delivery_id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    delivery_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_delivery.id"))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # None when no answer came (refused, unresolvable, timed out, connection failed).
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]


class ApiKey(Base):
    """A client system's credentials for the token endpoint (the secret kept as a hash only)."""

    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_client_id", "client_id", "id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(ForeignKey("client.id"))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]]
    # `$scrypt$ln=..,r=..,p=..$<salt>$<hash>` (PHC string format), never the secret itself.
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))  # the `sub` of the token that made it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last token


class Erasure(Base):
    """A job's data (`item_ids` None) or some of its items' erased: when, asked by whom (a
    client, an admin, retention), when each service said it erased its own, and when its
    events on the stream were emptied (by one pass at a time: till `stream_claimed_until`)."""

    __tablename__ = "erasure"
    __table_args__ = (Index("ix_erasure_job_id", "job_id", "requested_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("job.id"))
    client_id: Mapped[UUID]
    # SQL NULL (not JSON null) for the whole job: the queries ask for it.
    item_ids: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    intake_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    validation_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    billing_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reporting_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stream_erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stream_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
