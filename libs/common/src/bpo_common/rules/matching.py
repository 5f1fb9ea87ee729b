"""A job's `match` rule: how validation matches an invoice's lines against the client's
purchase orders (two-way) and goods receipts (three-way), and finds duplicate invoices.

The purchase-order dataset holds one row per order, keyed by its number, with the order's
lines in `lines` (NDJSON); a line has the invoice table's `line`, `quantity` and `price`
columns. The receipts dataset, when named, holds one row per goods receipt with the order's
number in `order_column` and the received lines (their `line` and `quantity` columns).
"""

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bpo_common.rules.expressions import Kind
from bpo_common.rules.names import DatasetName, FieldName, spec_error

ColumnName = Annotated[str, Field(min_length=1, max_length=100)]


class Tolerance(BaseModel):
    """How far an invoiced value may be from the order's and still match: an absolute amount
    (`{"absolute": "0.05"}`) or a share of the order's value (`{"percent": "2"}`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    absolute: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None
    percent: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.absolute is None) == (self.percent is None):
            raise spec_error("give either absolute or percent")
        return self

    def allows(self, invoiced: Decimal, ordered: Decimal) -> bool:
        """Whether `invoiced` is within this tolerance of `ordered` (the edge included)."""
        limit = self.absolute if self.percent is None else abs(ordered) * self.percent / 100
        assert limit is not None
        return abs(invoiced - ordered) <= limit


class Receipts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName
    # The column of a receipt that holds the number of the order it delivers against.
    order_column: ColumnName = "order"


class Duplicates(BaseModel):
    """An invoice is a duplicate when another of the client's invoices has the same vendor and
    number, or the same vendor and amount with a date at most `days` apart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vendor: FieldName
    number: FieldName | None = None
    amount: FieldName | None = None
    date: FieldName | None = None
    days: Annotated[int, Field(ge=0, le=3660)] = 30

    def problems(self) -> list[tuple[tuple[int | str, ...], str]]:
        """A same amount is a duplicate only dated near another, so `amount` needs `date` (and
        the other way round); without `number` nor them, no invoice would ever be one."""
        if (self.amount is None) != (self.date is None):
            missing = "date" if self.date is None else "amount"
            return [(("duplicates", missing), "amount and date go together")]
        if self.number is None and self.amount is None:
            return [(("duplicates",), "give number, or amount and date, or both")]
        return []


class Match(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    orders: DatasetName
    # The invoice's field holding the purchase-order number.
    order_field: FieldName
    # The invoice's table of lines, and its columns the match reads.
    table: FieldName
    line: ColumnName
    quantity: ColumnName
    price: ColumnName
    # On the quantity and price columns: how far from the order still matches (none: exact).
    tolerances: Annotated[dict[ColumnName, Tolerance], Field(max_length=2)] = Field(
        default_factory=dict
    )
    receipts: Receipts | None = None
    duplicates: Duplicates | None = None

    def tolerance(self, column: str) -> Tolerance:
        """The tolerance on a column: none unless the rule gives one."""
        return self.tolerances.get(column, Tolerance(absolute=Decimal(0)))

    def fields_read(self) -> list[tuple[str, tuple[str, ...]]]:
        """The fields (`number`) and table columns (`lines.qty`) the rule reads, each with
        where the rule names it."""
        read: list[tuple[str, tuple[str, ...]]] = [
            (self.order_field, ("order_field",)),
            (f"{self.table}.{self.line}", ("line",)),
            (f"{self.table}.{self.quantity}", ("quantity",)),
            (f"{self.table}.{self.price}", ("price",)),
        ]
        if self.duplicates is not None:
            for role in ("vendor", "number", "amount", "date"):
                name = getattr(self.duplicates, role)
                if name is not None:
                    read.append((name, ("duplicates", role)))
        return read

    def problems(
        self, kinds: dict[str, Kind], *, kinds_checked: bool = True
    ) -> list[tuple[tuple[int | str, ...], str]]:
        """What in the rule does not fit the job's fields (`kinds` as `rule_kinds` gives);
        without `kinds_checked` (a stored spec), a duplicates amount or date of another kind,
        and a duplicates test that can never hold, are let be."""
        found: list[tuple[tuple[int | str, ...], str]] = []
        found += _scalar(("order_field",), self.order_field, kinds)
        if kinds.get(self.table) is not Kind.TABLE:
            found.append((("table",), f"{self.table} is not a table field of the job"))
            return found
        columns: list[tuple[str, str, bool]] = [
            ("line", self.line, False),
            ("quantity", self.quantity, True),
            ("price", self.price, True),
        ]
        found += [
            (("tolerances", name), f"tolerances apply to {self.quantity} and {self.price} only")
            for name in self.tolerances
            if name not in (self.quantity, self.price)
        ]
        for where, column, number in columns:
            kind = kinds.get(f"{self.table}.{column}")
            if kind is None:
                found.append(((*where.split("."),), f"{column} is not a column of {self.table}"))
            elif number and kind is not Kind.NUMBER:
                found.append(((*where.split("."),), f"{column} is not a number column"))
        if self.duplicates is not None:
            # Amounts are compared as numbers, and dates days apart.
            wanted = {"amount": Kind.NUMBER, "date": Kind.DATE}
            for role in ("vendor", "number", "amount", "date"):
                name = getattr(self.duplicates, role)
                if name is None:
                    continue
                place: tuple[int | str, ...] = ("duplicates", role)
                misfit = _scalar(place, name, kinds)
                kind = wanted.get(role)
                if not misfit and kinds_checked and kind is not None and kinds[name] is not kind:
                    misfit = [(place, f"{name} is not a {kind.value} field")]
                found += misfit
            if kinds_checked:
                found += self.duplicates.problems()
        return found


def _scalar(
    where: tuple[int | str, ...], name: str, kinds: dict[str, Kind]
) -> list[tuple[tuple[int | str, ...], str]]:
    """A problem unless `name` is a field of the job that is not a table."""
    if name not in kinds:
        return [(where, f"{name} is not a field of the job")]
    if kinds[name] is Kind.TABLE:
        return [(where, f"{name} is a table")]
    return []
