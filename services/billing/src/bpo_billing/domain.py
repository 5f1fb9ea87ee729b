"""Pure billing rules: money rounding, price book checks, item pricing, invoice arithmetic.

The one rounding rule: an amount shown on an invoice (a line, the tax, a credit note, a
payment) is rounded half-up (ties away from zero) to the currency's minor unit, once, where
it is computed. Usage lines keep their exact price; an invoice line rounds the exact sum of
its usage, the tax rounds subtotal x rate, and totals are sums of rounded amounts.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from babel.numbers import get_currency_precision, list_currencies

from bpo_common.contracts import TaskOutcome
from bpo_common.errors import FieldError

HUNDRED = Decimal(100)
# Prices typed in (per item, per field, piece rates) have at most this many decimals; what
# the ledger computes from them (an item's price, an earning) keeps LEDGER_DECIMALS.
PRICE_DECIMALS = 6
LEDGER_DECIMALS = 8
KNOWN_CURRENCIES = frozenset(list_currencies())


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit: 2 for EUR, 0 for JPY, 3 for BHD."""
    return int(get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up (ties away from zero) to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def exact_price(amount: Decimal) -> Decimal:
    """A price or ledger amount as shown: without trailing zeros beyond the second decimal."""
    value = ledger(amount)
    normalized = value.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        return value.quantize(Decimal("0.01"))
    return normalized


def plain(amount: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent notation: 0.190000 -> 0.19, 10.00 -> 10."""
    return Decimal(format(amount.normalize(), "f"))


def decimals_of(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def money_errors(field: str, amount: Decimal, currency: str, *, positive: bool) -> list[FieldError]:
    """Problems of an amount a person typed in: sign and decimals beyond the minor unit."""
    if not amount.is_finite():
        return [FieldError(field, "must be a number")]
    if positive and amount <= 0:
        return [FieldError(field, "must be greater than zero")]
    if amount < 0:
        return [FieldError(field, "must not be negative")]
    if decimals_of(amount.normalize()) > minor_units(currency):
        return [
            FieldError(field, f"{currency} has {minor_units(currency)} decimals; {amount} has more")
        ]
    return []


# Price books


@dataclass(frozen=True)
class Tier:
    """Items min_quantity..max_quantity (1-based, of a work type in a calendar month) cost
    per_item each; max_quantity None is open-ended."""

    min_quantity: int
    max_quantity: int | None
    per_item: Decimal


@dataclass(frozen=True)
class Rate:
    per_item: Decimal
    per_field: Decimal = Decimal(0)
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class Rush:
    """Jobs whose SLA is shorter than max_sla_hours cost surcharge_pct more per item."""

    max_sla_hours: Decimal
    surcharge_pct: Decimal


def price_book_errors(
    currency: str,
    rates: dict[str, Rate],
    minimum_monthly_fee: Decimal,
    previous_currency: str | None,
) -> list[FieldError]:
    """What pydantic cannot check field by field: the currency, tier overlaps, the fee's
    decimals. Signs and ranges are checked by the request schema."""
    errors: list[FieldError] = []
    if currency not in KNOWN_CURRENCIES:
        errors.append(FieldError("currency", f"{currency!r} is not an ISO 4217 currency code"))
        return errors
    if previous_currency is not None and currency != previous_currency:
        errors.append(
            FieldError(
                "currency", f"the client is billed in {previous_currency}; a version keeps it"
            )
        )
    if not rates:
        errors.append(FieldError("rates", "give a rate for at least one work type"))
    for work_type, rate in rates.items():
        errors += tier_errors(f"rates.{work_type}.tiers", rate.tiers)
    errors += money_errors("minimum_monthly_fee", minimum_monthly_fee, currency, positive=False)
    return errors


def tier_errors(field: str, tiers: Sequence[Tier]) -> list[FieldError]:
    """Tiers start at item 1 and each starts right after the one before: no overlap, no gap."""
    errors: list[FieldError] = []
    expected_start = 1
    for index, tier in enumerate(tiers):
        here = f"{field}[{index}]"
        if tier.min_quantity < expected_start:
            what = (
                "must be 1"
                if index == 0
                else f"overlaps the tier before (it ends at {expected_start - 1})"
            )
            errors.append(FieldError(f"{here}.min_quantity", what))
        elif tier.min_quantity > expected_start:
            what = (
                "must be 1"
                if index == 0
                else f"leaves a gap after the tier before (next is {expected_start})"
            )
            errors.append(FieldError(f"{here}.min_quantity", what))
        if tier.max_quantity is None:
            if index != len(tiers) - 1:
                errors.append(
                    FieldError(f"{here}.max_quantity", "only the last tier is open-ended")
                )
            break
        if tier.max_quantity < tier.min_quantity:
            errors.append(FieldError(f"{here}.max_quantity", "must not be below min_quantity"))
            break
        expected_start = tier.max_quantity + 1
    return errors


def per_item_price(rate: Rate, ordinal: int) -> Decimal:
    """The per-item price of the ordinal-th item of the month: its tier's, else the base rate.

    Graduated: every item pays its own band's price, so a month's total depends only on how
    many items it had, not on the order they arrived in.
    """
    for tier in rate.tiers:
        if tier.min_quantity <= ordinal and (
            tier.max_quantity is None or ordinal <= tier.max_quantity
        ):
            return tier.per_item
    return rate.per_item


def sla_hours(sla: Decimal | None, due_at: datetime | None, created_at: datetime) -> Decimal | None:
    if sla is not None:
        return sla
    if due_at is not None:
        return Decimal((due_at - created_at).total_seconds()) / Decimal(3600)
    return None


def rush_pct(rush: Rush | None, job_sla_hours: Decimal | None) -> Decimal:
    if rush is None or job_sla_hours is None or job_sla_hours >= rush.max_sla_hours:
        return Decimal(0)
    return rush.surcharge_pct


def ledger(amount: Decimal) -> Decimal:
    """An amount as the ledger keeps it: to LEDGER_DECIMALS, far below any minor unit."""
    return amount.quantize(Decimal(1).scaleb(-LEDGER_DECIMALS), rounding=ROUND_HALF_UP)


def item_amount(unit: Decimal, per_field: Decimal, fields: int, surcharge_pct: Decimal) -> Decimal:
    """The price of one item, kept to the ledger's precision (invoice lines round their sums
    to the minor unit)."""
    base = unit + per_field * fields
    return ledger(base + base * surcharge_pct / HUNDRED)


def earning_amount(rate: Decimal, factor: Decimal) -> Decimal:
    return ledger(rate * factor)


# Invoices


class LineKind(StrEnum):
    USAGE = "usage"
    MINIMUM_FEE = "minimum_fee"
    SLA_CREDIT = "sla_credit"


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def line_amount(exact_sum: Decimal, currency: str) -> Decimal:
    return round_money(exact_sum, currency)


def invoice_totals(line_amounts: Iterable[Decimal], tax_rate: Decimal, currency: str) -> Totals:
    """Subtotal is the sum of the (already rounded) lines; tax rounds subtotal x rate once."""
    subtotal = round_money(sum(line_amounts, Decimal(0)), currency)
    tax = round_money(subtotal * tax_rate, currency)
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax)


def minimum_fee_top_up(usage_subtotal: Decimal, minimum: Decimal, currency: str) -> Decimal:
    """What brings the usage of an invoice up to the minimum monthly fee (0 when above it)."""
    return round_money(max(Decimal(0), minimum - usage_subtotal), currency)


def sla_credit(job_amount: Decimal, pct: Decimal, currency: str) -> Decimal:
    """The (negative) credit line for a late job: pct of what its items cost."""
    return -round_money(job_amount * pct / HUNDRED, currency)


def amount_due(total: Decimal, credited: Decimal, paid: Decimal) -> Decimal:
    return total - credited - paid


def settlement_errors(
    field: str, amount: Decimal, due: Decimal, currency: str, what: str
) -> list[FieldError]:
    """A payment or credit note must be positive, in minor units, and no more than is due."""
    errors = money_errors(field, amount, currency, positive=True)
    if not errors and amount > due:
        errors.append(
            FieldError(field, f"{what} of {amount} exceeds the {due} {currency} still due")
        )
    return errors


# Contractors


def earning_factor(outcome: TaskOutcome, overturned_fraction: Decimal) -> Decimal:
    """Accepted work pays the rate, overturned work a fraction of it, rejected work nothing."""
    if outcome is TaskOutcome.ACCEPTED:
        return Decimal(1)
    if outcome is TaskOutcome.OVERTURNED:
        return overturned_fraction
    return Decimal(0)


def margin(revenue: Decimal | None, cost: Decimal | None) -> Decimal:
    return (revenue or Decimal(0)) - (cost or Decimal(0))
