"""Tables the billing service owns."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bpo_billing.domain.invoices import InvoiceStatus, LineKind, UsageKind
from bpo_billing.domain.money import LEDGER_DECIMALS, LEDGER_DIGITS, MONEY_DIGITS, MONEY_PLACES
from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_common.db import JSON_TYPES, enum_column, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = JSON_TYPES


metadata = Base.metadata

# Exact prices and ledger amounts; invoice amounts are rounded to the minor unit when computed.
EXACT = Numeric(LEDGER_DIGITS + LEDGER_DECIMALS, LEDGER_DECIMALS)
# Amounts of invoices and what settles them: whatever their lines add up to, as the domain
# bounds it (domain.money.MONEY_DIGITS).
MONEY = Numeric(MONEY_DIGITS + MONEY_PLACES, MONEY_PLACES)
# An invoice line's unit price: an item's exact price, or a whole amount (a fee, a credit).
LINE_PRICE = Numeric(MONEY_DIGITS + LEDGER_DECIMALS, LEDGER_DECIMALS)


class BillableJob(Base):
    """A job as billing knows it: whose it is, its work type and its deadline terms."""

    __tablename__ = "billable_job"

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    work_type: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PriceBook(Base):
    """One version of a client's prices, in force from its effective date until the next."""

    __tablename__ = "price_book"
    __table_args__ = (
        UniqueConstraint("client_id", "version", name="uq_price_book_client_id_version"),
        UniqueConstraint("client_id", "effective_from", name="uq_price_book_client_id_effective"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    version: Mapped[int]
    effective_from: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 6))
    # {work_type: {per_item, per_field, tiers: [{min_quantity, max_quantity, per_item}]}}
    rates: Mapped[dict[str, Any]]
    rush: Mapped[dict[str, Any] | None]
    # What each match exception the client's own people resolve costs; None: nothing.
    per_exception: Mapped[Decimal | None] = mapped_column(EXACT)
    minimum_monthly_fee: Mapped[Decimal] = mapped_column(MONEY)
    sla_credit_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    accuracy_credit_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4), server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VolumeCounter(Base):
    """Items of a client's work type recorded in a calendar month: where graduated tiers stand."""

    __tablename__ = "volume_counter"

    client_id: Mapped[UUID] = mapped_column(primary_key=True)
    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    items: Mapped[int]


class UsageLine(Base):
    """One completed item, or one match exception the client's own people resolved (priced
    when recorded; it names its item too), on the client's ledger. Unpriced (amount NULL)
    while the client's prices do not cover it; unbilled while invoice_id is NULL.

    A draft marks a client's lines billed by the million in one UPDATE, and every index on
    the table is written for every line it marks: it has only the indexes lookups need
    (none on job_id or invoice_id; a void finds its lines through the client), the one on
    exception_id holds only exception lines, and the one of lines waiting for a price only
    those (a draft marks priced lines).
    """

    __tablename__ = "usage_line"
    __table_args__ = (
        Index(
            "ix_usage_line_unbilled",
            "client_id",
            "completed_at",
            postgresql_where=text("invoice_id IS NULL"),
        ),
        # A client's lines of a period; and every client's, for the margin report, skipping
        # from client to client (PostgreSQL 18's skip scan).
        Index("ix_usage_line_client_id_completed_at", "client_id", "completed_at"),
        # What a new price book version prices, and what a draft says still waits.
        Index(
            "ix_usage_line_waiting",
            "client_id",
            "completed_at",
            "id",
            postgresql_where=text("amount IS NULL"),
        ),
        # One line per item and one per exception; an item may have both.
        Index(
            "uq_usage_line_item_id",
            "item_id",
            unique=True,
            postgresql_where=text("kind = 'item'"),
        ),
        Index(
            "uq_usage_line_exception_id",
            "exception_id",
            unique=True,
            postgresql_where=text("exception_id IS NOT NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[UsageKind] = mapped_column(
        enum_column(UsageKind), server_default=UsageKind.ITEM.value
    )
    item_id: Mapped[UUID]
    exception_id: Mapped[UUID | None]
    job_id: Mapped[UUID]
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    fields: Mapped[int]
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    price_book_id: Mapped[UUID | None]
    unit_price: Mapped[Decimal | None] = mapped_column(EXACT)
    field_price: Mapped[Decimal | None] = mapped_column(EXACT)
    rush_pct: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    amount: Mapped[Decimal | None] = mapped_column(EXACT)
    currency: Mapped[str | None] = mapped_column(String(3))
    invoice_id: Mapped[UUID | None]
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    priced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobCredit:
    """A job that fell short, once per job: pending while invoice_id is NULL, then claimed by
    the draft that bills its items (a void gives it back)."""

    job_id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    invoice_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlaCredit(JobCredit, Base):
    """A job that completed after its due time; its credit goes on the next invoice drafted."""

    __tablename__ = "sla_credit"

    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccuracyCredit(JobCredit, Base):
    """A job that did not deliver its target accuracy with 95 % confidence, as validation
    decided when it completed (shares of 1); its credit goes on the next invoice drafted."""

    __tablename__ = "accuracy_credit"

    target_accuracy: Mapped[Decimal] = mapped_column(Numeric)
    estimate: Mapped[float | None]
    assured: Mapped[float | None]
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (Index("ix_invoice_client_id_status", "client_id", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    # "2026-000001": the next of a gap-free series per year, given when finalized.
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus))
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    price_book_id: Mapped[UUID]
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(7, 6))
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    amount_credited: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    amount_paid: Mapped[Decimal] = mapped_column(MONEY, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)


class InvoiceLine(Base):
    __tablename__ = "invoice_line"

    invoice_id: Mapped[UUID] = mapped_column(ForeignKey("invoice.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[LineKind] = mapped_column(enum_column(LineKind))
    job_id: Mapped[UUID | None] = mapped_column(index=True)
    work_type: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(LINE_PRICE)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class Series(StrEnum):
    """Each kind of document is numbered in a gap-free series of its own, per year."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    def number(self, year: int, ordinal: int) -> str:
        """`2026-000042` for an invoice, `CN-2026-000007` for a credit note."""
        prefix = "CN-" if self is Series.CREDIT_NOTE else ""
        return f"{prefix}{year}-{ordinal:06d}"


class InvoiceCounter(Base):
    """The last number given in a year's series; its row lock serializes the documents that
    take numbers from it."""

    __tablename__ = "invoice_counter"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class CreditNote(Base):
    __tablename__ = "credit_note"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    invoice_id: Mapped[UUID] = mapped_column(ForeignKey("invoice.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(Text)
    # [{description, amount}] when the note was given line by line.
    lines: Mapped[list[dict[str, Any]]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    __tablename__ = "payment"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    invoice_id: Mapped[UUID] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(200))
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PieceRate(Base):
    """What a contractor earns per task of a kind on a work type."""

    __tablename__ = "piece_rate"

    work_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(EXACT)
    currency: Mapped[str] = mapped_column(String(3))
    # Paid besides, per hour the contractor was active on a task (the same on each kind's
    # row of a work type); None when the work type pays by the piece only.
    per_hour: Mapped[Decimal | None] = mapped_column(EXACT)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Earning(Base):
    """One scored task: what it pays (amount NULL while its work type has no piece rate)."""

    __tablename__ = "earning"
    __table_args__ = (
        Index("ix_earning_contractor_id_earned_at", "contractor_id", "earned_at"),
        # What a put of piece rates prices.
        Index("ix_earning_waiting", "work_type", "id", postgresql_where=text("amount IS NULL")),
        # The margin report's period, of one client or every client (as usage lines).
        Index("ix_earning_client_id_earned_at", "client_id", "earned_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    task_id: Mapped[UUID] = mapped_column(unique=True)
    item_id: Mapped[UUID]
    contractor_id: Mapped[UUID]
    job_id: Mapped[UUID] = mapped_column(index=True)
    client_id: Mapped[UUID]
    work_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind))
    outcome: Mapped[TaskOutcome] = mapped_column(enum_column(TaskOutcome, name="outcome"))
    golden: Mapped[bool]
    factor: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    # The share of the job's fields the task keyed (a partial second keying's is under 1).
    share: Mapped[Decimal] = mapped_column(Numeric(5, 4), server_default=text("1"))
    # Seconds the contractor was active on the task, when the workbench measured them.
    active_seconds: Mapped[float | None]
    rate: Mapped[Decimal | None] = mapped_column(EXACT)
    amount: Mapped[Decimal | None] = mapped_column(EXACT)
    currency: Mapped[str | None] = mapped_column(String(3))
    earned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
