"""The invoices, orders and receipts matching tests build: a job with a `lines` table and its
match rule, and matching an invoice against order PO-1."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bpo_common.rules import FieldSpec, JobSpec, Match
from bpo_validation.domain.matching import (
    Found,
    InvoiceMatch,
    match_invoice,
)
from bpo_validation.domain.reference import LookupResult

Row = dict[str, Any]

FIELDS: list[Row] = [
    {"name": "po", "type": "string", "required": False},
    {"name": "vendor", "type": "string"},
    {"name": "number", "type": "string", "required": False},
    {"name": "total", "type": "decimal", "required": False},
    {"name": "issued", "type": "date", "required": False},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "decimal"},
            {"name": "price", "type": "decimal"},
        ],
    },
]
MATCH: Row = {
    "orders": "purchase-orders",
    "order_field": "po",
    "table": "lines",
    "line": "sku",
    "quantity": "qty",
    "price": "price",
}
RECEIPTS: Row = {"dataset": "goods-receipts"}
ORDER = "PO-1"


def line(sku: str, qty: str, price: str = "10") -> Row:
    return {"sku": sku, "qty": qty, "price": price}


def rule_and_table(
    match: Mapping[str, Any] | None = None, fields: Sequence[Row] = FIELDS
) -> tuple[Match, FieldSpec]:
    spec = JobSpec.model_validate({"fields": fields, "match": {**MATCH, **(match or {})}})
    assert spec.match is not None
    return spec.match, spec.field("lines")


def match(
    invoice_lines: list[Row],
    order_lines: list[Row],
    *,
    tolerances: Mapping[str, Mapping[str, str]] | None = None,
    receipts: list[Row] | None = None,
    before: Mapping[str, Decimal] | None = None,
    fields: Sequence[Row] = FIELDS,
) -> InvoiceMatch:
    """The invoice with `invoice_lines` against order PO-1 with `order_lines`; three-way when
    `receipts` are given."""
    rule, table = rule_and_table(
        {"tolerances": tolerances or {}, "receipts": None if receipts is None else RECEIPTS},
        fields,
    )
    found = Found(
        order=LookupResult(True, {"number": ORDER, "lines": order_lines}),
        receipts=receipts,
        invoiced_before=before or {},
    )
    return match_invoice(rule, table, {"po": ORDER, "lines": invoice_lines}, found)


def receipt(*lines: Row) -> Row:
    return {"order": ORDER, "lines": list(lines)}


def delivered(sku: str, qty: str) -> Row:
    return {"sku": sku, "qty": qty}
