"""Matching an invoice against the client's purchase order and goods receipts: an outcome
for every line, and the reasons the invoice cannot be paid as it is.

A line is matched on the rule's `line` column with the order's lines of the same value (case
and spaces ignored; a line ordered twice adds up, priced by the nearer of its prices).
Quantities add up: what other items invoiced against the same order line before, the earlier
lines of this invoice with the same value, and this line (a negative quantity, a credit,
matches no order and never lowers what was invoiced). Each line gets
the first of these that applies, and every reason that applies:
- not_on_order: the order has no such line (or there is no such order);
- already_invoiced: other items invoiced this order line before, and with this line more than
  was ordered would be invoiced;
- not_received (three-way): more would be invoiced than the receipts of the order delivered;
- quantity_variance: more would be invoiced than was ordered;
- price_variance: the unit price differs from the order's, either way;
- matched.
Invoicing less than was ordered or received is a partial invoice, not a variance. "More" is
beyond the quantity tolerance, and "differs" beyond the price tolerance, both measured from
the order's (or receipts') figure, the edge included as a match.
"""

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from decimal import Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

from bpo_common.rules import (
    FieldSpec,
    InvalidValue,
    Match,
    canonical_form,
    is_empty,
    to_json,
)
from bpo_validation.domain.datasets import MAX_KEY
from bpo_validation.domain.reference import LookupResult, reference_key


class LineOutcome(StrEnum):
    MATCHED = "matched"
    NOT_ON_ORDER = "not_on_order"
    ALREADY_INVOICED = "already_invoiced"
    NOT_RECEIVED = "not_received"
    QUANTITY_VARIANCE = "quantity_variance"
    PRICE_VARIANCE = "price_variance"


class InvoiceOutcome(StrEnum):
    """How an invoice as a whole matched: the first that applies."""

    # Another invoice of the client has the same vendor and number, or amount and date.
    DUPLICATE = "duplicate"
    # The invoice names no order, or one the client's orders do not hold.
    NO_ORDER = "no_order"
    # Some line is not as ordered or received.
    MISMATCH = "mismatch"
    MATCHED = "matched"


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# The order of precedence: a line's outcome is the first that applies.
_PRECEDENCE = list(LineOutcome)


@dataclass(frozen=True)
class Found:
    """What matching one invoice reads beyond it."""

    order: LookupResult
    # The receipts against the order; None when the rule names no receipts dataset.
    receipts: Sequence[Mapping[str, Any]] | None
    # Quantity already invoiced by other items, by order line (its `reference_key`).
    invoiced_before: Mapping[str, Decimal]
    # Other invoices this one duplicates: why, for each.
    duplicates: Sequence[str] = ()
    # Whether the client has the receipts dataset the rule names.
    receipts_exist: bool = True


@dataclass(frozen=True)
class LineMatch:
    row: int
    # The order line it bills (the line value as its column reads it, `reference_key`ed).
    key: str | None
    line: str | None
    outcome: LineOutcome
    reasons: list[str]
    quantity: str | None
    price: str | None
    ordered_quantity: str | None = None
    ordered_price: str | None = None
    received_quantity: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "outcome": self.outcome.value,
            "reasons": self.reasons,
            "invoiced": {"quantity": self.quantity, "price": self.price},
            "ordered": {"quantity": self.ordered_quantity, "price": self.ordered_price},
            "received": self.received_quantity,
        }


@dataclass(frozen=True)
class InvoiceMatch:
    order: str | None
    outcome: InvoiceOutcome
    lines: list[LineMatch] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.reasons

    def invoiced_lines(self) -> dict[str, Decimal]:
        """Quantity this invoice bills, by order line: what later invoices see as before."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            billed = line.outcome is not LineOutcome.NOT_ON_ORDER
            if billed and line.key is not None and line.quantity is not None:
                billed_now = max(Decimal(line.quantity), Decimal(0))
                totals[line.key] = totals.get(line.key, Decimal(0)) + billed_now
        return totals


def order_number(rule: Match, result: Mapping[str, Any]) -> str | None:
    """The purchase-order number the invoice names, if it names one."""
    value = result.get(rule.order_field)
    return None if value is None or not str(value).strip() else str(value)


def match_invoice(
    rule: Match,
    table: FieldSpec,
    result: Mapping[str, Any],
    found: Found,
    *,
    written: FieldSpec | None = None,
) -> InvoiceMatch:
    """Every line of the invoice against its order (and receipts), and the invoice's reasons.
    `table` is the invoice's table field, reading the result's canonical values; `written`,
    the same as the job wrote it (default: `table`): the order's and receipts' values are
    read by its columns' types as the client wrote them (not held to the invoice's limits),
    so "1,000.50" in an order matches 1000.5."""
    # Wide enough for any number a field accepts (60 digits), sums and shares of them.
    with localcontext(Context(prec=130)):
        number = order_number(rule, result)
        reader = _Reader(rule, table, _unlimited(written or table))
        reasons: list[str] = []
        order_lines: dict[str, list[Mapping[str, Any]]] | None = None
        if number is None:
            reasons.append(f"the invoice names no purchase order ({rule.order_field} is empty)")
        elif not found.order.dataset_exists:
            reasons.append(f"there is no purchase-order dataset {rule.orders}")
        elif found.order.row is None:
            reasons.append(f"order {number} is not in {rule.orders}")
        else:
            order_lines = reader.by_line(found.order.row.get("lines"))
        received = None
        if rule.receipts is not None and not found.receipts_exist:
            # Nothing is known of what was delivered: no line is said to be short of it.
            reasons.append(f"there is no goods-receipt dataset {rule.receipts.dataset}")
        elif found.receipts is not None:
            received = reader.received(found.receipts)
        running: dict[str, Decimal] = {}
        lines = []
        for i, row in enumerate(result.get(rule.table) or []):
            line = reader.line(
                i, row, number, order_lines, received, found.invoiced_before, running
            )
            lines.append(line)
            reasons += [f"{rule.table}[{i}]: {reason}" for reason in line.reasons]
        reasons += [f"duplicate: {why}" for why in found.duplicates]
        if found.duplicates:
            outcome = InvoiceOutcome.DUPLICATE
        elif order_lines is None:
            outcome = InvoiceOutcome.NO_ORDER
        else:
            outcome = InvoiceOutcome.MISMATCH if reasons else InvoiceOutcome.MATCHED
        return InvoiceMatch(number, outcome, lines, reasons)


def _unlimited(table: FieldSpec) -> FieldSpec:
    """The table with its columns' decimal places left free: an order's price of 5.125 is
    that price, though the invoice's column takes two places."""
    columns = tuple(c.model_copy(update={"decimal_places": None}) for c in table.columns or ())
    return table.model_copy(update={"columns": columns})


@dataclass(frozen=True)
class _Reader:
    rule: Match
    # The invoice's table, reading its canonical values; the same as the job wrote it,
    # reading the client's orders and receipts (`ordered`).
    table: FieldSpec
    written: FieldSpec

    def _read(self, column: str, value: object, ordered: bool) -> Any:
        """A value in canonical form, read by its column's type; InvalidValue or KeyError."""
        return canonical_form((self.written if ordered else self.table).column(column), value)

    def key(self, value: object, *, ordered: bool = False) -> str | None:
        """The order line a line value names: read as the line column reads it (so 1 and
        "01" in an integer column are one line), then `reference_key`ed."""
        if value is None:
            return None
        with suppress(InvalidValue, KeyError):  # else compared as it is written
            value = self._read(self.rule.line, value, ordered)
        key = None if value is None else reference_key(value)
        # One longer than a key may be names no line (it would not fit the index of lines
        # invoiced).
        return None if key is None or len(key) > MAX_KEY else key

    def by_line(self, lines: object) -> dict[str, list[Mapping[str, Any]]]:
        """An order's lines by line (one line may be ordered twice, at two prices)."""
        found: dict[str, list[Mapping[str, Any]]] = {}
        for line in lines if isinstance(lines, list) else []:
            value = line.get(self.rule.line) if isinstance(line, Mapping) else None
            key = self.key(value, ordered=True)
            if key is not None:
                found.setdefault(key, []).append(line)
        return found

    def ordered(
        self, lines: Sequence[Mapping[str, Any]], price: Decimal | None
    ) -> tuple[Decimal | None, Decimal | None]:
        """What the order's lines of one line ask for: their quantities added up, and of their
        prices the nearest to the invoiced one; None where one does not read."""
        rule = self.rule
        quantities = [self.number(rule.quantity, o.get(rule.quantity), ordered=True) for o in lines]
        prices = [self.number(rule.price, o.get(rule.price), ordered=True) for o in lines]
        if any(q is None for q in quantities) or any(p is None for p in prices):
            return None, None
        readable = [p for p in prices if p is not None]
        nearest = min(readable, key=lambda p: abs(p - price)) if price is not None else readable[0]
        return sum((q for q in quantities if q is not None), Decimal(0)), nearest

    def number(self, column: str, value: object, *, ordered: bool = False) -> Decimal | None:
        """A value read as the table's column reads it; None when it is not a number."""
        try:
            read = self._read(column, value, ordered)
        except (InvalidValue, KeyError):
            return None
        if isinstance(read, bool) or not isinstance(read, int | str):
            return None
        with suppress(InvalidOperation):  # a column of another type
            return Decimal(read)
        return None

    def text(self, column: str, number: Decimal | None) -> str | None:
        """A figure as the column writes it (`12.50` in a column of two decimal places; an
        order's 5.125 there as it is)."""
        if number is None:
            return None
        spec = self.table.column(column)
        places = spec.decimal_places
        if places is not None and int(number.as_tuple().exponent) > -places:
            number = number.quantize(Decimal(1).scaleb(-places))
        return str(to_json(spec, number))

    def received(self, receipts: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
        """Quantity delivered by line over all the order's receipts."""
        rule, totals = self.rule, dict[str, Decimal]()
        for receipt in receipts:
            lines = receipt.get("lines")
            for line in lines if isinstance(lines, list) else []:
                value = line.get(rule.line) if isinstance(line, Mapping) else None
                key = self.key(value, ordered=True)
                if key is not None:
                    delivered = self.number(rule.quantity, line.get(rule.quantity), ordered=True)
                    totals[key] = totals.get(key, Decimal(0)) + (delivered or 0)
        return totals

    def line(
        self,
        i: int,
        row: Mapping[str, Any],
        order: str | None,
        order_lines: Mapping[str, Sequence[Mapping[str, Any]]] | None,
        received: Mapping[str, Decimal] | None,
        before: Mapping[str, Decimal],
        running: dict[str, Decimal],
    ) -> LineMatch:
        """One invoice line's outcome; `running` adds up this invoice's quantities by line."""
        rule, value = self.rule, row.get(self.rule.line)
        quantity = self.number(rule.quantity, row.get(rule.quantity))
        price = self.number(rule.price, row.get(rule.price))
        shown = LineMatch(
            row=i,
            key=self.key(value),
            line=None if value is None else str(value),
            outcome=LineOutcome.MATCHED,
            reasons=[],
            quantity=self.text(rule.quantity, quantity),
            price=self.text(rule.price, price),
        )
        if order_lines is None:  # no order: the invoice's reason says why
            return replace(shown, outcome=LineOutcome.NOT_ON_ORDER)
        key = self.key(value)
        ordered = None if key is None else order_lines.get(key)
        if is_empty(value):
            why = f"no {rule.line} given, so it matches no line of order {order}"
            return _with(shown, [(LineOutcome.NOT_ON_ORDER, why)])
        if key is None or ordered is None:
            why = f"{rule.line} {value} is not on order {order}"
            return _with(shown, [(LineOutcome.NOT_ON_ORDER, why)])
        ordered_quantity, ordered_price = self.ordered(ordered, price)
        # A negative quantity (a credit) never lowers what the line has been invoiced.
        running[key] = running.get(key, Decimal(0)) + max(quantity or 0, Decimal(0))
        total = before.get(key, Decimal(0)) + running[key]
        shown = replace(
            shown,
            ordered_quantity=self.text(rule.quantity, ordered_quantity),
            ordered_price=self.text(rule.price, ordered_price),
        )
        found: list[tuple[LineOutcome, str]] = []
        named = f"{rule.line} {value}"

        def qty(number: Decimal) -> str | None:
            return self.text(rule.quantity, number)

        def cost(number: Decimal) -> str | None:
            return self.text(rule.price, number)

        tolerance = rule.tolerance(rule.quantity)
        if ordered_quantity is None or ordered_price is None:
            why = f"order {order}'s line {value} has no readable {rule.quantity} or {rule.price}"
            return _with(shown, [(LineOutcome.NOT_ON_ORDER, why)])
        # A column the job lets keyers leave empty: nothing to check it against the order by.
        if quantity is None:
            found.append((LineOutcome.QUANTITY_VARIANCE, f"{named}: no {rule.quantity} invoiced"))
        elif quantity < 0:
            why = f"{named}: {qty(quantity)} invoiced: a negative quantity matches no order"
            found.append((LineOutcome.QUANTITY_VARIANCE, why))
        if total > ordered_quantity and not tolerance.allows(total, ordered_quantity):
            if before.get(key):
                outcome = LineOutcome.ALREADY_INVOICED
                why = (
                    f"{named}: {qty(before[key])} of {qty(ordered_quantity)} ordered were "
                    f"invoiced before; with this invoice {qty(total)}"
                )
            else:
                outcome = LineOutcome.QUANTITY_VARIANCE
                why = f"{named}: {qty(total)} invoiced, {qty(ordered_quantity)} ordered"
            found.append((outcome, why))
        if price is None:
            found.append((LineOutcome.PRICE_VARIANCE, f"{named}: no {rule.price} invoiced"))
        elif not rule.tolerance(rule.price).allows(price, ordered_price):
            why = f"{named}: {rule.price} {cost(price)}, ordered at {cost(ordered_price)}"
            found.append((LineOutcome.PRICE_VARIANCE, why))
        if received is not None:
            delivered = received.get(key, Decimal(0))
            shown = replace(shown, received_quantity=self.text(rule.quantity, delivered))
            if total > delivered and not tolerance.allows(total, delivered):
                why = f"{named}: {qty(total)} invoiced, {qty(delivered)} received"
                found.append((LineOutcome.NOT_RECEIVED, why))
        return _with(shown, found)


def _with(line: LineMatch, found: Sequence[tuple[LineOutcome, str]]) -> LineMatch:
    """The line with its outcome (the first that applies) and every reason."""
    if not found:
        return line
    ordered = sorted(found, key=lambda pair: _PRECEDENCE.index(pair[0]))
    return replace(line, outcome=ordered[0][0], reasons=[why for _, why in ordered])
