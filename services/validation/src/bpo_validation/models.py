"""Tables the validation service owns."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_common.contracts import MACHINE_CONTRACTOR_ID, ExceptionAction, TaskKind
from bpo_common.db import JSON_TYPES, enum_column, new_metadata
from bpo_common.ids import new_sample_key
from bpo_validation.domain.matching import ExceptionStatus, InvoiceOutcome
from bpo_validation.domain.reference import SEPARATORS
from bpo_validation.domain.verdicts import Outcome


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = JSON_TYPES


metadata = Base.metadata


class JobRules(Base):
    """The field rules and QC policy of a job, as intake announced them."""

    __tablename__ = "job_rules"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[dict[str, Any]]]
    rules: Mapped[list[str]]
    # The job's match rule (invoices against purchase orders), when it has one.
    match: Mapped[dict[str, Any] | None]
    qc: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The job's items received so far, control items aside (adaptive QC's rulings hold the
    # job's bound over them).
    items: Mapped[int] = mapped_column(server_default="0")
    # The secret that keys the job's review sample (bpo_common.ids.sampled): a keyer, who sees
    # an item's id, cannot tell whether a reviewer will see the item. Never shown. 16 random
    # bytes, drawn by the database too for a replica of the release before, during an upgrade.
    sample_key: Mapped[bytes] = mapped_column(
        LargeBinary, default=new_sample_key, server_default=text("uuid_send(gen_random_uuid())")
    )
    # When intake cancelled the job: a keying read after the cancel keeps no provisional
    # judgement, as no adjudication will come to replace it.
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobDataKey(Base):
    """A job's data key, wrapped as intake gave it (bpo_common.crypto): kept so that it is
    asked for once."""

    __tablename__ = "job_data_key"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    wrapped: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Entry(Base):
    """One submitted task: a keying, a review or an adjudication of an item."""

    __tablename__ = "entry"

    task_id: Mapped[UUID] = mapped_column(primary_key=True)
    item_id: Mapped[UUID] = mapped_column(index=True)
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind, name="task_kind"))
    contractor_id: Mapped[UUID]
    data: Mapped[dict[str, Any]]
    golden: Mapped[dict[str, Any] | None]
    client_values: Mapped[dict[str, Any] | None]
    # A reviewer's reason for rejecting the item (their `data` is then empty).
    rejection: Mapped[str | None] = mapped_column(Text)
    # The file names of the documents the item was keyed from.
    documents: Mapped[list[str]] = mapped_column(server_default=text("'[]'::jsonb"))
    # Seconds the contractor was active on the task, when the workbench measured them.
    active_seconds: Mapped[float | None]
    # An entry task's machine pre-fill ({field: {value, confidence, planted}}) and its layout.
    suggestions: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    layout_id: Mapped[UUID | None]
    entries_expected: Mapped[int]
    # A partial second keying: the only fields it keyed (empty: all of the job's).
    keyed_fields: Mapped[list[str]] = mapped_column(server_default=text("'[]'::jsonb"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """What validation decided about an item, and why; an item may collect several."""

    __tablename__ = "decision"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    item_id: Mapped[UUID] = mapped_column(index=True)
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome, name="outcome"))
    reason: Mapped[str] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    comparison: Mapped[list[dict[str, Any]]]
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JudgedField:
    """One field of one keying judged right or wrong (the columns judgements share)."""

    id: Mapped[UUID] = mapped_column(primary_key=True)
    contractor_id: Mapped[UUID]
    item_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    # A field's name, or a table cell's `table.column` (63 + 1 + 63).
    field: Mapped[str] = mapped_column(String(127))
    correct: Mapped[bool]
    judged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The crew's judged fields: not the machine's (its id as a literal, which an index's
# predicate needs; repository.accuracy says the same).
CREW_FIELDS = text(f"contractor_id <> '{MACHINE_CONTRACTOR_ID}'")


class Judgement(JudgedField, Base):
    """One field of one entry judged right or wrong against the final or known answer."""

    __tablename__ = "judgement"
    __table_args__ = (
        # A keyer's judged fields by work type, newest last (the quality floor's and adaptive
        # QC's windows read the latest straight from it, field and verdict included).
        Index(
            "ix_judgement_keyer_window",
            "contractor_id",
            "work_type",
            "judged_at",
            "id",
            postgresql_include=["correct", "field"],
        ),
        # The crew's recent record on a work type (adaptive QC's prior), the machine's fields
        # left out, as the crew's reads leave them: so that a read of one keyer's fields,
        # which cannot know it leaves them out, never walks the crew's instead.
        Index("ix_judgement_crew_window", "work_type", "judged_at", postgresql_where=CREW_FIELDS),
    )

    task_id: Mapped[UUID]
    golden: Mapped[bool]
    # The machine's judged fields: the layout it read the value by.
    layout_id: Mapped[UUID | None]
    # A keyer shown a wrong pre-fill for the field: whether they kept it (else NULL).
    accepted_wrong_prefill: Mapped[bool | None]


class ProvisionalJudgement(JudgedField, Base):
    """One field of a keying judged against another keying of its item, while the item
    awaits its adjudication (domain.entries.disputed); its final judgement replaces it."""

    __tablename__ = "provisional_judgement"
    __table_args__ = (
        Index("ix_provisional_judgement_contractor_judged_at", "contractor_id", "judged_at"),
        Index("ix_provisional_judgement_work_type_judged_at", "work_type", "judged_at"),
    )


class Standing(Base):
    """A contractor's standing: their running tally, when and why they were suspended (set
    until a manager reactivates them, so a suspension is announced once), and when they were
    last reactivated."""

    __tablename__ = "standing"

    contractor_id: Mapped[UUID] = mapped_column(primary_key=True)
    # Every field of theirs judged so far, and how many were right (the figures shown).
    judged: Mapped[int] = mapped_column(server_default="0")
    correct: Mapped[int] = mapped_column(server_default="0")
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    # The quality floor counts only fields judged after it.
    reactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobAccuracy(Base):
    """An adaptive job's ledger (domain.accuracy.Ledger): what the items adaptive QC ruled on
    are expected to deliver (its counts are its shares'; its client and work type, the job's
    rules')."""

    __tablename__ = "job_accuracy"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    # Each Share as [items, expected, variance, sd, shared]: the items keyed twice, those keyed
    # twice on some fields only, and by keyer ({contractor id: share}) those they carried alone.
    checked: Mapped[list[float]] = mapped_column(JSONB)
    partly: Mapped[list[float]] = mapped_column(JSONB, server_default=text("'[0, 0, 0, 0]'::jsonb"))
    carried: Mapped[dict[str, list[float]]] = mapped_column(JSONB)
    # How many of each share's items have each tables' rows, [[{table: rows}, items], ...], as
    # {"checked": ..., "partly": ..., "carried": {contractor id: ...}}: kept apart from the
    # shares, which a release from before it reads as five numbers (none: each item of one
    # row a table, as items were valued before). Once the job completed, also "judged": the
    # judged fields on the work type its ledger, kept since as it was valued then, rests on.
    sizes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the job completed and what it delivered was said (from the shares as then kept,
    # when `sizes` has "judged").
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyerRoute(Base):
    """Whether a keyer's first keyings on a work type are among the least trusted, as last
    said to intake (KeyerTrustChanged)."""

    __tablename__ = "keyer_route"

    contractor_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    doubtful: Mapped[bool]
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferenceDataset(Base):
    """A client's reference data (purchase orders, vendor master) that `lookup` rules check."""

    __tablename__ = "reference_dataset"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    name: Mapped[str] = mapped_column(String(63))
    key_column: Mapped[str] = mapped_column(String(100))
    columns: Mapped[list[str]]
    row_count: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReferenceRow(Base):
    """One row of a reference dataset, found by its key (trimmed, spaces collapsed, casefolded)."""

    __tablename__ = "reference_row"
    # Rows by their key without an identifier's separators (validation_0027).
    __table_args__ = (
        Index(
            "ix_reference_row_compact_key",
            "dataset_id",
            text(f"regexp_replace(key, '{SEPARATORS}', '', 'g')"),
        ),
    )

    dataset_id: Mapped[UUID] = mapped_column(
        ForeignKey("reference_dataset.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    values: Mapped[dict[str, Any]]


class MatchException(Base):
    """An invoice that did not match its purchase order: open until the client's accounts
    payable (or a manager) accepts, rejects or corrects it."""

    __tablename__ = "match_exception"
    __table_args__ = (Index("ix_match_exception_client_status", "client_id", "status", "id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    item_id: Mapped[UUID] = mapped_column(index=True)
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    status: Mapped[ExceptionStatus] = mapped_column(enum_column(ExceptionStatus))
    outcome: Mapped[InvoiceOutcome] = mapped_column(enum_column(InvoiceOutcome))
    reasons: Mapped[list[str]]
    # Each invoice line's outcome (matching.LineMatch.as_json).
    lines: Mapped[list[dict[str, Any]]]
    # The invoice as it would have been accepted.
    result: Mapped[dict[str, Any]]
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[ExceptionAction | None] = mapped_column(enum_column(ExceptionAction))
    # The data a correction gave, and who resolved it (a client's or a manager's subject).
    data: Mapped[dict[str, Any] | None]
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    by_client: Mapped[bool | None]
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InvoicedLine(Base):
    """What an invoice item billed against one order line: later invoices of the same line
    see it as invoiced before."""

    __tablename__ = "invoiced_line"
    __table_args__ = (Index("ix_invoiced_line_order", "client_id", "order_key"),)

    item_id: Mapped[UUID] = mapped_column(primary_key=True)
    order_key: Mapped[str] = mapped_column(Text, primary_key=True)
    line_key: Mapped[str] = mapped_column(Text, primary_key=True)
    client_id: Mapped[UUID]
    quantity: Mapped[Decimal] = mapped_column(Numeric)


class SeenInvoice(Base):
    """An invoice item's vendor, number, amount and date, to find duplicates by."""

    __tablename__ = "seen_invoice"
    # By a hash of the vendor: a keyed vendor may be longer than an index entry holds.
    __table_args__ = (Index("ix_seen_invoice_vendor", "client_id", text("md5(vendor)")),)

    item_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    vendor: Mapped[str] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric)
    dated: Mapped[date | None] = mapped_column(Date)
