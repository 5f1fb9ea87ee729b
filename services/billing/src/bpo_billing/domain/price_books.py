"""A client's prices and what they make an item cost: graduated tiers by the month's count,
a price per field, and a surcharge for rushed jobs."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from bpo_billing.domain.money import HUNDRED, currency_errors, ledger, money_errors
from bpo_common.errors import FieldError


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


class Version(Protocol):
    """A version of a client's prices, as far as choosing one reads it."""

    @property
    def effective_from(self) -> date: ...

    @property
    def rates(self) -> Mapping[str, Any]: ...


V = TypeVar("V", bound=Version)


def taken_effect(versions: Sequence[V], day: date) -> V | None:
    """The latest version to take effect on or before `day`; None before the first."""
    taken = [version for version in versions if version.effective_from <= day]
    return max(taken, key=lambda version: version.effective_from, default=None)


def in_force(versions: Sequence[V], day: date) -> V | None:
    """The version in force on `day`: the latest to take effect on or before it; before the
    first, the earliest (what prices usage of then). None: the client has no prices."""
    taken = taken_effect(versions, day)
    if taken is not None:
        return taken
    return min(versions, key=lambda version: version.effective_from, default=None)


def covering(versions: Sequence[V], day: date, work_type: str) -> V | None:
    """The version that prices an item of `work_type` completed on `day`: the one in force
    then if it lists the work type; else the first to take effect after `day` that lists it
    (so also for an item that waited for prices, once a version is put). None: the item
    waits unpriced."""
    current = in_force(versions, day)
    if current is None or work_type in current.rates:
        return current
    later = sorted(
        (v for v in versions if v.effective_from > day and work_type in v.rates),
        key=lambda version: version.effective_from,
    )
    return next(iter(later), None)


def price_book_errors(
    currency: str,
    rates: dict[str, Rate],
    minimum_monthly_fee: Decimal,
    previous_currency: str | None,
) -> list[FieldError]:
    """What pydantic cannot check field by field: the currency, tier overlaps, the fee's
    decimals. Signs and ranges are checked by the request schema."""
    # The client's currency stays, even one ISO 4217 has withdrawn since it was taken.
    errors = [] if currency == previous_currency else currency_errors(currency)
    if errors:
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
    """A job's SLA in hours: as given, else from its due time, to the minute (a due time set
    24 h ahead by the client's clock is a 24 h SLA, though the job was created a moment
    after it was set)."""
    if sla is not None:
        return sla
    if due_at is not None:
        return Decimal(round((due_at - created_at).total_seconds() / 60)) / Decimal(60)
    return None


def rush_pct(rush: Rush | None, job_sla_hours: Decimal | None) -> Decimal:
    if rush is None or job_sla_hours is None or job_sla_hours >= rush.max_sla_hours:
        return Decimal(0)
    return rush.surcharge_pct


def item_amount(unit: Decimal, per_field: Decimal, fields: int, surcharge_pct: Decimal) -> Decimal:
    """The price of one item, kept to the ledger's precision (invoice lines round their sums
    to the minor unit)."""
    base = unit + per_field * fields
    return ledger(base + base * surcharge_pct / HUNDRED)


@dataclass(frozen=True)
class ItemPrice:
    """What one item costs, and how: its tier's unit price, the price per field, the rush
    surcharge, and the amount they make."""

    unit_price: Decimal
    field_price: Decimal
    rush_pct: Decimal
    amount: Decimal


def price_item(
    rate: Rate, ordinal: int, fields: int, rush: Rush | None, job_sla_hours: Decimal | None
) -> ItemPrice:
    """Price the ordinal-th item of its month: its tier, per field, rush surcharge."""
    unit = per_item_price(rate, ordinal)
    surcharge = rush_pct(rush, job_sla_hours)
    return ItemPrice(
        unit_price=unit,
        field_price=rate.per_field,
        rush_pct=surcharge,
        amount=item_amount(unit, rate.per_field, fields, surcharge),
    )
