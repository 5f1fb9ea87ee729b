"""An invoice's arithmetic: its lines from the claimed usage, the minimum fee top-up, the
credits of jobs that fell short (late, or below their accuracy target), tax and totals; what a
payment or credit note may take off; which status allows what.

A draft is assembled in two steps because the credits are claimed from what the draft's
usage lines bill: `usage_lines` first, then, once those are stored and the credits claimed,
`assemble` adds the rest and the totals.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from bpo_billing.domain.minimum_fee import MonthBilled, fee_description, minimum_fee_top_up
from bpo_billing.domain.money import (
    HUNDRED,
    MOST_MONEY,
    exact_price,
    held,
    money_errors,
    plain,
    round_money,
)
from bpo_common.errors import Conflict, FieldError, Invalid
from bpo_common.money import minor_units


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    VOID = "void"


class LineKind(StrEnum):
    USAGE = "usage"
    # Match exceptions the client's own people resolved, at the price book's price each.
    EXCEPTION = "exception"
    MINIMUM_FEE = "minimum_fee"
    SLA_CREDIT = "sla_credit"
    ACCURACY_CREDIT = "accuracy_credit"


class UsageKind(StrEnum):
    """What a usage line bills: a completed item, or a match exception the client's own
    people resolved."""

    ITEM = "item"
    EXCEPTION = "exception"


@dataclass(frozen=True)
class UsageGroup:
    """Claimed usage lines of one job, work type and kind at one price: how many, and their
    exact sum."""

    job_id: UUID
    work_type: str
    external_ref: str | None
    unit_price: Decimal
    quantity: int
    exact_sum: Decimal
    kind: UsageKind = UsageKind.ITEM


@dataclass(frozen=True)
class LateJob:
    """A claimed SLA credit: a job that completed after its due time, and what its items
    were billed."""

    job_id: UUID
    external_ref: str | None
    due_at: datetime
    completed_at: datetime
    billed: Decimal

    kind: ClassVar[LineKind] = LineKind.SLA_CREDIT

    def shortfall(self) -> str:
        return f"completed {_duration(self.completed_at - self.due_at)} late"


@dataclass(frozen=True)
class JobBelowTarget:
    """A claimed accuracy credit: a job that did not deliver its target accuracy with 95 %
    confidence (accuracies as shares of 1, as validation gives them), and what its items were
    billed."""

    job_id: UUID
    external_ref: str | None
    target_accuracy: Decimal
    estimate: float | None
    assured: float | None
    billed: Decimal

    kind: ClassVar[LineKind] = LineKind.ACCURACY_CREDIT

    def shortfall(self) -> str:
        target = f"{self.target_accuracy:.2%}"
        if self.estimate is None or self.assured is None:
            return f"delivered no measured accuracy against its {target} target"
        return (
            f"delivered {self.estimate:.2%} against its {target} target "
            f"(95 % lower bound {self.assured:.2%})"
        )


# A job that fell short of what the client was promised, credited on the next draft.
CreditedJob = LateJob | JobBelowTarget
CREDIT_NAMES = {LineKind.SLA_CREDIT: "SLA credit", LineKind.ACCURACY_CREDIT: "Accuracy credit"}


@dataclass(frozen=True)
class InvoiceTerms:
    """What a draft takes from the price book in force at the end of its period."""

    currency: str
    tax_rate: Decimal
    minimum_monthly_fee: Decimal
    sla_credit_pct: Decimal
    accuracy_credit_pct: Decimal = Decimal(0)

    def credit_pct(self, kind: LineKind) -> Decimal:
        """The share (in %) of a job's billed items a credit of this kind gives back."""
        if kind is LineKind.ACCURACY_CREDIT:
            return self.accuracy_credit_pct
        return self.sla_credit_pct


@dataclass(frozen=True)
class Line:
    kind: LineKind
    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    job_id: UUID | None = None
    work_type: str | None = None


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Draft:
    lines: tuple[Line, ...]
    totals: Totals
    # Credits that would take the subtotal below zero: they wait for a later draft.
    deferred: tuple[CreditedJob, ...] = ()


def line_amount(exact_sum: Decimal, currency: str, what: str = "a line") -> Decimal:
    """The exact sum rounded once; Conflict naming `what` when an invoice cannot hold it."""
    return _held(exact_sum, currency, what)


def invoice_totals(line_amounts: Iterable[Decimal], tax_rate: Decimal, currency: str) -> Totals:
    """Subtotal is the sum of the (already rounded) lines; tax rounds subtotal x rate once.
    Conflict when an invoice cannot hold what they come to."""
    subtotal = _held(sum(line_amounts, Decimal(0)), currency, "the invoice's subtotal")
    tax = round_money(subtotal * tax_rate, currency)
    return Totals(
        subtotal=subtotal, tax=tax, total=_held(subtotal + tax, currency, "the invoice's total")
    )


def _held(amount: Decimal, currency: str, what: str) -> Decimal:
    """The amount rounded to the minor unit, unless an invoice cannot hold it (its columns, and
    what a payment may take): a Conflict that says so rather than a database error."""
    rounded = round_money(amount, currency) if held(amount) else amount
    if not held(rounded):
        raise Conflict(
            f"{what} would come to {rounded:f} {currency}, more than an invoice holds "
            f"(under {MOST_MONEY} {currency})"
        )
    return rounded


def job_credit(job_amount: Decimal, pct: Decimal, currency: str) -> Decimal:
    """The (negative) credit for a job that fell short: pct of what its items cost."""
    return -round_money(job_amount * pct / HUNDRED, currency)


def credit_line(job: CreditedJob, terms: InvoiceTerms) -> Line | None:
    """The credit line of a late job or one below its accuracy target; None when the
    credit rounds to nothing."""
    pct = terms.credit_pct(job.kind)
    amount = job_credit(job.billed, pct, terms.currency)
    if amount == 0:
        return None
    description = (
        f"{CREDIT_NAMES[job.kind]} {plain(pct)}%: job {job.external_ref or job.job_id} "
        f"{job.shortfall()}"
    )
    return Line(job.kind, description, 1, amount, amount, job.job_id)


def usage_lines(groups: Iterable[UsageGroup], currency: str) -> list[Line]:
    """One line per group, its exact sum rounded once. Resolved exceptions are lines of their
    own kind, so a job's credit (a share of what its items cost) leaves them out."""
    return [
        Line(
            kind=LineKind.EXCEPTION if group.kind is UsageKind.EXCEPTION else LineKind.USAGE,
            description=_usage_description(group),
            quantity=group.quantity,
            unit_price=exact_price(group.unit_price, minor_units(currency)),
            amount=line_amount(
                group.exact_sum, currency, f"the line of {_usage_description(group)}"
            ),
            job_id=group.job_id,
            work_type=group.work_type,
        )
        for group in groups
    ]


def _usage_description(group: UsageGroup) -> str:
    job = group.external_ref or group.job_id
    if group.kind is UsageKind.EXCEPTION:
        return f"Match exceptions resolved, job {job}"
    return f"{group.work_type} items, job {job}"


def assemble(
    usage: Sequence[Line],
    credited: Iterable[CreditedJob],
    terms: InvoiceTerms,
    month: MonthBilled = MonthBilled(),
) -> Draft:
    """The whole draft: the usage lines, the minimum monthly fee trued up over the month's
    invoices (see `minimum_fee_top_up`; no line when it is 0), a credit per late job and per
    job below its accuracy target, in the order given (none when it rounds to nothing; a job
    both late and below target gets both; one that would take the subtotal below zero is
    deferred), and the totals with tax."""
    currency = terms.currency
    lines = list(usage)
    usage_subtotal = sum((line.amount for line in usage), Decimal(0))
    top_up = minimum_fee_top_up(usage_subtotal, terms.minimum_monthly_fee, currency, month)
    if top_up != 0:
        said = fee_description(usage_subtotal, terms.minimum_monthly_fee, currency, month)
        lines.append(Line(LineKind.MINIMUM_FEE, said, 1, top_up, top_up))
    subtotal = sum((line.amount for line in lines), Decimal(0))
    deferred: list[CreditedJob] = []
    for job in credited:
        line = credit_line(job, terms)
        if line is None:
            continue
        if subtotal + line.amount < 0:
            deferred.append(job)  # an invoice never goes below zero: the credit waits
            continue
        lines.append(line)
        subtotal += line.amount
    totals = invoice_totals([line.amount for line in lines], terms.tax_rate, currency)
    return Draft(lines=tuple(lines), totals=totals, deferred=tuple(deferred))


def _duration(delta: timedelta) -> str:
    """How late, as a reader takes it in: minutes (begun ones) under an hour, hours under two
    days, days beyond."""
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def amount_due(status: InvoiceStatus, total: Decimal, credited: Decimal, paid: Decimal) -> Decimal:
    """What the client still owes on the invoice: nothing on a void one."""
    return Decimal(0) if status is InvoiceStatus.VOID else total - credited - paid


def settlement_errors(
    field: str, amount: Decimal, due: Decimal, currency: str, what: str
) -> list[FieldError]:
    """A payment or credit note must be positive, in minor units, and no more than is due
    (said in the currency's minor unit, however many places the stored amounts keep)."""
    errors = money_errors(field, amount, currency, positive=True)
    if not errors and amount > due:
        owed = round_money(due, currency)
        errors.append(
            FieldError(field, f"{what} of {amount} exceeds the {owed} {currency} still due")
        )
    return errors


# How far ahead of this clock a payment's time may be (another's clock may run ahead).
PAYMENT_CLOCK_SKEW = timedelta(minutes=5)


def check_payment(
    amount: Decimal,
    due: Decimal,
    currency: str,
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Invalid unless the payment settles part or all of what is due, and was made by `now`."""
    errors = settlement_errors("amount", amount, due, currency, "a payment")
    if paid_at is not None and now is not None and paid_at > now + PAYMENT_CLOCK_SKEW:
        errors.append(FieldError("paid_at", "must not be in the future"))
    _refuse(errors)


def credit_amount(
    amount: Decimal | None, line_amounts: Sequence[Decimal] | None, due: Decimal, currency: str
) -> Decimal:
    """What a credit note takes off: its `amount`, or the sum of its lines (one or the other);
    Invalid naming every problem otherwise."""
    if (amount is None) == (line_amounts is None):
        _refuse([FieldError("amount", "give either amount or lines, not both or neither")])
    if amount is not None:
        _refuse(settlement_errors("amount", amount, due, currency, "a credit"))
        return amount
    assert line_amounts is not None
    errors: list[FieldError] = []
    for index, line in enumerate(line_amounts):
        errors += money_errors(f"lines[{index}].amount", line, currency, positive=True)
    total = sum(line_amounts, Decimal(0))
    if not errors:
        errors += settlement_errors("lines", total, due, currency, "a credit")
    _refuse(errors)
    return total


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        raise Invalid(errors[0].message, errors=errors)


def ensure_status(
    invoice_id: UUID, status: InvoiceStatus, action: str, *allowed: InvoiceStatus
) -> None:
    """Conflict unless the invoice is in a status that allows the action."""
    if status not in allowed:
        states = " or ".join(s.value for s in allowed)
        raise Conflict(f"invoice {invoice_id} is {status.value}; {action} needs it {states}")


def overdue(status: InvoiceStatus, due_on: date | None, today: date) -> bool:
    """Finalized and still unpaid after its due date."""
    return status is InvoiceStatus.FINALIZED and due_on is not None and today > due_on


def unpriced_said(waiting: Mapping[str, int]) -> str:
    """What a refused draft adds of the usage that waits for a price (by work type), so that
    the refusal says what to put in the price book."""
    if not waiting:
        return ""
    listed = ", ".join(f"{work_type} ({lines})" for work_type, lines in waiting.items())
    return (
        f"; usage lines of work type {listed} wait for a price: put a price book version "
        "whose rates list it"
    )
