"""Request and response bodies of the billing API. Money goes out as decimal strings."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from bpo_billing.domain.invoices import InvoiceStatus, LineKind, UsageKind
from bpo_billing.domain.money import MONEY_DIGITS, MONEY_PLACES, PRICE_DECIMALS
from bpo_billing.domain.price_books import Rate, Rush, Tier
from bpo_common.clock import Day, Instant
from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_common.decimals import NewAtMost, Trimmed
from bpo_common.rules import WORK_TYPE_PATTERN

# At most a billion a unit in any currency: an item of 200 fields at the most with a rush
# surcharge then stays far inside what the ledger's columns hold (16 digits before the point).
# A version stored before that bound (prices under 10^10) is read with STORED, as accepted.
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=16, decimal_places=PRICE_DECIMALS),
    Trimmed,
    NewAtMost(10**9),
]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4), Trimmed]
# A rush surcharge may more than double a price (same-day work at 2.5 times): under 1000 %, as
# the usage line's rush_pct column holds it.
RushPercent = Annotated[Decimal, Field(ge=0, lt=1000, max_digits=7, decimal_places=4), Trimmed]
# As much as an invoice holds: a payment may settle the largest in one.
Amount = Annotated[
    Decimal,
    Field(max_digits=MONEY_DIGITS + MONEY_PLACES, decimal_places=MONEY_PLACES),
    Trimmed,
]
# A work type as jobs name it (lower case), so that a price can ever apply.
WorkType = Annotated[str, Field(pattern=WORK_TYPE_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobTermsOut(BaseModel):
    job_id: UUID
    client_id: UUID
    work_type: str
    due_at: datetime | None
    sla_hours: Decimal | None
    created_at: datetime
    received_at: datetime


# Price books


class TierIn(_Body):
    min_quantity: int = Field(ge=1)
    max_quantity: int | None = Field(None, ge=1)
    per_item: Price


class RateIn(_Body):
    per_item: Price
    per_field: Price = Decimal(0)
    tiers: list[TierIn] = Field(default_factory=list, max_length=50)

    def rate(self) -> Rate:
        return Rate(
            per_item=self.per_item,
            per_field=self.per_field,
            tiers=tuple(Tier(t.min_quantity, t.max_quantity, t.per_item) for t in self.tiers),
        )


class RushIn(_Body):
    max_sla_hours: Annotated[Decimal, Trimmed] = Field(gt=0, max_digits=10, decimal_places=2)
    surcharge_pct: RushPercent

    def rush(self) -> Rush:
        return Rush(max_sla_hours=self.max_sla_hours, surcharge_pct=self.surcharge_pct)


class PriceBookIn(_Body):
    """A new version of a client's prices, in force from `effective_from` (default today)."""

    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    tax_rate: Annotated[Decimal, Trimmed] = Field(
        ge=0, le=1, max_digits=7, decimal_places=6, examples=["0.21"]
    )
    rates: dict[WorkType, RateIn] = Field(max_length=200)
    rush: RushIn | None = None
    per_exception: Price | None = Field(
        default=None,
        description="billed for each match exception the client's own people resolve; "
        "without it, resolving one costs nothing",
    )
    minimum_monthly_fee: Amount = Decimal(0)
    sla_credit_pct: Percent = Field(
        Decimal(0), description="credited of a late job's items, in %, on the next invoice"
    )
    accuracy_credit_pct: Percent = Field(
        Decimal(0),
        description="credited of the items of a job that did not deliver its target accuracy "
        "with 95 % confidence, in %, on the next invoice",
    )
    effective_from: Day | None = None


class PriceBookOut(BaseModel):
    id: UUID
    client_id: UUID
    version: int
    effective_from: date
    currency: str
    tax_rate: Decimal
    rates: dict[str, RateIn]
    rush: RushIn | None
    per_exception: Decimal | None
    minimum_monthly_fee: Decimal
    sla_credit_pct: Decimal
    accuracy_credit_pct: Decimal
    created_at: datetime


class PriceBookVersions(BaseModel):
    client_id: UUID
    data: list[PriceBookOut]


# Usage


class UsageLineOut(BaseModel):
    """A completed item, or a match exception the client's people resolved (`completed_at`
    is when, and `item_id` its item)."""

    id: UUID
    kind: UsageKind
    item_id: UUID
    exception_id: UUID | None
    job_id: UUID
    client_id: UUID
    work_type: str
    fields: int
    completed_at: datetime
    priced: bool
    unit_price: Decimal | None
    field_price: Decimal | None
    rush_pct: Decimal | None
    amount: Decimal | None
    currency: str | None
    invoice_id: UUID | None


# Invoices


class InvoiceDraftIn(_Body):
    client_id: UUID
    period_start: Day
    period_end: Day

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and value < start:
            raise ValueError("must not be before period_start")
        return value


class InvoiceLineOut(BaseModel):
    kind: LineKind
    job_id: UUID | None
    work_type: str | None
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


class CreditNoteLineIn(_Body):
    description: str = Field(min_length=1, max_length=500)
    amount: Amount


class CreditNoteIn(_Body):
    """A credit: one `amount`, or `lines` that add up to it; always with a reason."""

    reason: str = Field(min_length=1, max_length=1000)
    amount: Amount | None = None
    lines: list[CreditNoteLineIn] | None = Field(None, min_length=1, max_length=100)


class CreditNoteOut(BaseModel):
    id: UUID
    number: str
    amount: Decimal
    reason: str
    lines: list[CreditNoteLineIn]
    created_at: datetime


class PaymentIn(_Body):
    amount: Amount
    paid_at: Instant | None = None
    reference: str | None = Field(None, max_length=200)


class PaymentOut(BaseModel):
    id: UUID
    amount: Decimal
    reference: str | None
    paid_at: datetime


class VoidIn(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class InvoiceSummary(BaseModel):
    id: UUID
    client_id: UUID
    number: str | None
    status: InvoiceStatus
    currency: str
    period_start: date
    period_end: date
    total: Decimal
    amount_due: Decimal
    due_on: date | None
    overdue: bool


class InvoiceOut(InvoiceSummary):
    """The whole invoice: its summary, lines, credit notes, payments and timestamps."""

    lines: list[InvoiceLineOut]
    subtotal: Decimal
    tax_rate: Decimal
    tax: Decimal
    credit_notes: list[CreditNoteOut]
    payments: list[PaymentOut]
    amount_credited: Decimal
    amount_paid: Decimal
    created_at: datetime
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


# Contractors


class PieceRatesIn(_Body):
    """What each kind of task on a work type pays."""

    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    entry: Price
    review: Price
    adjudication: Price
    per_hour: Price | None = Field(
        default=None,
        description="paid besides, per hour of a task's active time (submits that report it)",
    )


class PieceRatesOut(BaseModel):
    work_type: str
    currency: str
    entry: Decimal | None
    review: Decimal | None
    adjudication: Decimal | None
    per_hour: Decimal | None


class EarningGroup(BaseModel):
    work_type: str
    kind: TaskKind
    outcome: TaskOutcome
    tasks: int
    rate: Decimal | None
    amount: Decimal | None
    currency: str | None


class EarningsStatement(BaseModel):
    contractor_id: UUID
    period_start: date
    period_end: date
    lines: list[EarningGroup]
    # Per currency; tasks whose work type has no piece rate yet are counted in `unpriced_tasks`.
    totals: dict[str, Decimal]
    unpriced_tasks: int


# Margin


class JobMargin(BaseModel):
    job_id: UUID
    revenue: Decimal
    cost: Decimal
    margin: Decimal | None = Field(description="null where part is in another currency")


class ClientMargin(BaseModel):
    client_id: UUID
    currency: str
    revenue: Decimal
    cost: Decimal
    margin: Decimal | None = Field(description="null where part is in another currency")
    jobs: list[JobMargin]


class MarginReport(BaseModel):
    period_start: date
    period_end: date
    clients: list[ClientMargin]
