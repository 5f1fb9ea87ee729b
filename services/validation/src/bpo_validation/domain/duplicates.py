"""Finding duplicate invoices: what is kept of each (its vendor, number, amount and date), and
which of the client's others an invoice duplicates: the same vendor and number, or the same
vendor and amount dated close together."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from bpo_common.rules.matching import Duplicates
from bpo_validation.domain.reference import reference_key


@dataclass(frozen=True)
class Invoice:
    """What finding duplicates keeps of an invoice: its vendor, number, amount and date."""

    item_id: UUID
    vendor: str
    number: str | None
    amount: Decimal | None
    dated: date | None


def invoice_of(rule: Duplicates, item_id: UUID, result: Mapping[str, Any]) -> Invoice | None:
    """The invoice's identity for finding duplicates; None when it names no vendor."""
    vendor = result.get(rule.vendor)
    if vendor is None or not str(vendor).strip():
        return None

    def value(name: str | None) -> Any:
        return None if name is None else result.get(name)

    number, amount, dated = value(rule.number), value(rule.amount), value(rule.date)
    return Invoice(
        item_id=item_id,
        vendor=reference_key(vendor),
        number=None if number is None else reference_key(number),
        amount=_number(amount),
        dated=_date(dated),
    )


# A job accepted before its rule's amount had to be a number field and its date a date field
# may hold text there: such a value does not count (rather than fail the invoice).
_LARGEST_EXPONENT = 1000


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    # Within what a NUMERIC column stores (1E+200000 is not).
    readable = number.is_finite() and abs(number.adjusted()) <= _LARGEST_EXPONENT
    return number if value is not None and readable else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def duplicates(rule: Duplicates, invoice: Invoice, others: Sequence[Invoice]) -> list[str]:
    """Why the invoice duplicates others of the same vendor: the same number, or the same
    amount dated at most `rule.days` apart."""
    found = []
    for other in others:
        if other.item_id == invoice.item_id or other.vendor != invoice.vendor:
            continue
        if invoice.number is not None and other.number == invoice.number:
            found.append(f"item {other.item_id} has the same vendor and invoice number")
        elif (
            invoice.amount is not None
            and other.amount == invoice.amount
            and invoice.dated is not None
            and other.dated is not None
            and abs((invoice.dated - other.dated).days) <= rule.days
        ):
            found.append(
                f"item {other.item_id} has the same vendor and amount, dated {other.dated}"
            )
    return found
