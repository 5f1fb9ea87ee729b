"""Matching an invoice against its purchase order and goods receipts, and finding duplicate
invoices: every line outcome, the tolerances at their edges, precedence, and the reasons."""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bpo_common.rules import FieldSpec, JobSpec, Match
from bpo_common.rules.matching import Duplicates
from bpo_validation.domain.matching import (
    Found,
    Invoice,
    InvoiceMatch,
    LineOutcome,
    duplicates,
    invoice_of,
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


# Every line outcome, alone.


def test_a_line_as_ordered_is_matched() -> None:
    invoice = match([line("AB-1", "10", "12.50")], [line("AB-1", "10", "12.5")])
    assert invoice.matched
    assert invoice.order == ORDER
    assert invoice.reasons == []
    assert [found.as_json() for found in invoice.lines] == [
        {
            "row": 0,
            "line": "AB-1",
            "outcome": "matched",
            "reasons": [],
            "invoiced": {"quantity": "10", "price": "12.5"},
            "ordered": {"quantity": "10", "price": "12.5"},
            "received": None,
        }
    ]


def test_a_line_the_order_lacks_is_not_on_order() -> None:
    invoice = match(
        [line("AB-1", "1"), line("ZZ-9", "2", "3")], [line("AB-1", "5"), line("CD-2", "2")]
    )
    assert not invoice.matched
    assert invoice.reasons == ["lines[1]: sku ZZ-9 is not on order PO-1"]
    assert invoice.lines[0].outcome is LineOutcome.MATCHED
    assert invoice.lines[1].as_json() == {
        "row": 1,
        "line": "ZZ-9",
        "outcome": "not_on_order",
        "reasons": ["sku ZZ-9 is not on order PO-1"],
        "invoiced": {"quantity": "2", "price": "3"},
        "ordered": {"quantity": None, "price": None},
        "received": None,
    }


@pytest.mark.parametrize(
    ("po", "order", "reason"),
    [
        ("PO-404", LookupResult(True, None), "order PO-404 is not in purchase-orders"),
        (
            ORDER,
            LookupResult(False),
            "there is no purchase-order dataset purchase-orders",
        ),
        (None, LookupResult(True), "the invoice names no purchase order (po is empty)"),
        ("  ", LookupResult(True), "the invoice names no purchase order (po is empty)"),
    ],
    ids=["order not in the dataset", "no dataset", "no order named", "blank order named"],
)
def test_without_an_order_every_line_is_not_on_order_and_the_invoice_says_why(
    po: str | None, order: LookupResult, reason: str
) -> None:
    rule, table = rule_and_table()
    result = {"po": po, "lines": [line("AB-1", "1"), line("CD-2", "2")]}
    invoice = match_invoice(rule, table, result, Found(order, None, {}))
    assert invoice.reasons == [reason]
    assert not invoice.matched
    assert invoice.order == (None if po is None or not po.strip() else po)
    assert [(found.outcome, found.reasons) for found in invoice.lines] == [
        (LineOutcome.NOT_ON_ORDER, []),
        (LineOutcome.NOT_ON_ORDER, []),
    ]
    assert invoice.invoiced_lines() == {}


def test_an_order_line_without_a_readable_quantity_or_price_is_not_on_order() -> None:
    invoice = match([line("AB-1", "1")], [line("AB-1", "1", "ten")])
    assert invoice.lines[0].outcome is LineOutcome.NOT_ON_ORDER
    assert invoice.reasons == ["lines[0]: order PO-1's line AB-1 has no readable qty or price"]


def test_invoicing_past_the_order_after_earlier_invoices_is_already_invoiced() -> None:
    invoice = match([line("AB-1", "5")], [line("AB-1", "10")], before={"ab-1": Decimal("6")})
    assert invoice.lines[0].as_json() == {
        "row": 0,
        "line": "AB-1",
        "outcome": "already_invoiced",
        "reasons": ["sku AB-1: 6 of 10 ordered were invoiced before; with this invoice 11"],
        "invoiced": {"quantity": "5", "price": "10"},
        "ordered": {"quantity": "10", "price": "10"},
        "received": None,
    }
    assert invoice.reasons == [
        "lines[0]: sku AB-1: 6 of 10 ordered were invoiced before; with this invoice 11"
    ]


def test_the_rest_of_an_order_after_earlier_invoices_is_matched() -> None:
    invoice = match([line("AB-1", "4")], [line("AB-1", "10")], before={"ab-1": Decimal("6")})
    assert invoice.matched
    assert invoice.lines[0].outcome is LineOutcome.MATCHED


def test_earlier_invoices_of_another_order_line_do_not_count() -> None:
    invoice = match(
        [line("AB-1", "10")],
        [line("AB-1", "10"), line("CD-2", "10")],
        before={"cd-2": Decimal("10")},
    )
    assert invoice.matched


def test_invoicing_past_the_order_with_nothing_invoiced_before_is_a_quantity_variance() -> None:
    invoice = match([line("AB-1", "11")], [line("AB-1", "10")])
    assert invoice.lines[0].outcome is LineOutcome.QUANTITY_VARIANCE
    assert invoice.reasons == ["lines[0]: sku AB-1: 11 invoiced, 10 ordered"]


@pytest.mark.parametrize("price", ["10.01", "9.99"], ids=["above", "below"])
def test_a_price_either_side_of_the_order_is_a_price_variance(price: str) -> None:
    invoice = match([line("AB-1", "10", price)], [line("AB-1", "10", "10.00")])
    [found] = invoice.lines
    assert found.outcome is LineOutcome.PRICE_VARIANCE
    assert found.as_json()["invoiced"] == {"quantity": "10", "price": price}
    assert found.as_json()["ordered"] == {"quantity": "10", "price": "10"}
    assert invoice.reasons == [f"lines[0]: sku AB-1: price {price}, ordered at 10"]


def test_receipts_add_up_over_receipts_and_their_lines_of_one_item() -> None:
    receipts = [
        receipt(delivered("AB-1", "3"), delivered("ab-1", "2"), delivered("CD-2", "7")),
        receipt(delivered(" AB-1 ", "4")),
    ]
    invoice = match([line("AB-1", "10")], [line("AB-1", "10")], receipts=receipts)
    assert invoice.lines[0].as_json() == {
        "row": 0,
        "line": "AB-1",
        "outcome": "not_received",
        "reasons": ["sku AB-1: 10 invoiced, 9 received"],
        "invoiced": {"quantity": "10", "price": "10"},
        "ordered": {"quantity": "10", "price": "10"},
        "received": "9",
    }
    assert invoice.reasons == ["lines[0]: sku AB-1: 10 invoiced, 9 received"]

    received = match([line("AB-1", "9")], [line("AB-1", "10")], receipts=receipts)
    assert received.matched
    assert received.lines[0].received_quantity == "9"


def test_a_line_no_receipt_delivers_is_not_received() -> None:
    invoice = match(
        [line("AB-1", "1")],
        [line("AB-1", "10")],
        receipts=[receipt(delivered("CD-2", "5"))],
    )
    assert invoice.lines[0].outcome is LineOutcome.NOT_RECEIVED
    assert invoice.lines[0].received_quantity == "0"
    assert invoice.reasons == ["lines[0]: sku AB-1: 1 invoiced, 0 received"]


def test_an_order_with_no_receipts_yet_receives_nothing() -> None:
    invoice = match([line("AB-1", "1")], [line("AB-1", "10")], receipts=[])
    assert invoice.lines[0].outcome is LineOutcome.NOT_RECEIVED
    assert invoice.reasons == ["lines[0]: sku AB-1: 1 invoiced, 0 received"]


def test_two_way_matching_ignores_receipts() -> None:
    invoice = match([line("AB-1", "10")], [line("AB-1", "10")])
    assert invoice.matched
    assert invoice.lines[0].as_json()["received"] is None


def test_invoicing_less_than_ordered_and_received_is_a_partial_invoice() -> None:
    invoice = match(
        [line("AB-1", "4")],
        [line("AB-1", "10")],
        receipts=[receipt(delivered("AB-1", "6"))],
    )
    assert invoice.matched
    assert invoice.lines[0].as_json() == {
        "row": 0,
        "line": "AB-1",
        "outcome": "matched",
        "reasons": [],
        "invoiced": {"quantity": "4", "price": "10"},
        "ordered": {"quantity": "10", "price": "10"},
        "received": "6",
    }


# Tolerances: the edge matches, just past it does not.


@pytest.mark.parametrize(
    ("tolerance", "price", "matched"),
    [
        ({"percent": "2"}, "10.20", True),
        ({"percent": "2"}, "10.21", False),
        ({"percent": "2"}, "9.80", True),
        ({"percent": "2"}, "9.79", False),
        ({"absolute": "0.05"}, "10.05", True),
        ({"absolute": "0.05"}, "10.06", False),
        ({"absolute": "0.05"}, "9.95", True),
        ({"absolute": "0.05"}, "9.94", False),
    ],
)
def test_a_price_tolerance_includes_its_edge(
    tolerance: dict[str, str], price: str, matched: bool
) -> None:
    invoice = match(
        [line("AB-1", "1", price)], [line("AB-1", "1", "10.00")], tolerances={"price": tolerance}
    )
    expected = LineOutcome.MATCHED if matched else LineOutcome.PRICE_VARIANCE
    assert invoice.lines[0].outcome is expected
    assert invoice.matched is matched


@pytest.mark.parametrize(
    ("tolerance", "qty", "matched"),
    [
        ({"percent": "2"}, "51", True),
        ({"percent": "2"}, "51.01", False),
        ({"absolute": "1"}, "51", True),
        ({"absolute": "1"}, "51.01", False),
    ],
)
def test_a_quantity_tolerance_includes_its_edge(
    tolerance: dict[str, str], qty: str, matched: bool
) -> None:
    invoice = match([line("AB-1", qty)], [line("AB-1", "50")], tolerances={"qty": tolerance})
    expected = LineOutcome.MATCHED if matched else LineOutcome.QUANTITY_VARIANCE
    assert invoice.lines[0].outcome is expected
    assert invoice.matched is matched


def test_a_price_tolerance_does_not_loosen_the_quantity() -> None:
    invoice = match(
        [line("AB-1", "11")], [line("AB-1", "10")], tolerances={"price": {"absolute": "5"}}
    )
    assert invoice.lines[0].outcome is LineOutcome.QUANTITY_VARIANCE


@pytest.mark.parametrize(
    ("tolerance", "qty", "matched"),
    [
        # 2 % of the 50 received, not of the 100 ordered.
        ({"percent": "2"}, "51", True),
        ({"percent": "2"}, "51.01", False),
        ({"absolute": "1"}, "51", True),
        ({"absolute": "1"}, "51.01", False),
    ],
)
def test_the_quantity_tolerance_measures_receipts_from_what_was_received(
    tolerance: dict[str, str], qty: str, matched: bool
) -> None:
    invoice = match(
        [line("AB-1", qty)],
        [line("AB-1", "100")],
        tolerances={"qty": tolerance},
        receipts=[receipt(delivered("AB-1", "50"))],
    )
    expected = LineOutcome.MATCHED if matched else LineOutcome.NOT_RECEIVED
    assert invoice.lines[0].outcome is expected


@pytest.mark.parametrize(("qty", "matched"), [("5", True), ("5.01", False)])
def test_the_quantity_tolerance_applies_to_what_was_invoiced_before_too(
    qty: str, matched: bool
) -> None:
    invoice = match(
        [line("AB-1", qty)],
        [line("AB-1", "10")],
        tolerances={"qty": {"absolute": "1"}},
        before={"ab-1": Decimal("6")},
    )
    expected = LineOutcome.MATCHED if matched else LineOutcome.ALREADY_INVOICED
    assert invoice.lines[0].outcome is expected


# Precedence: the outcome is the first that applies, the reasons are all of them.


def test_already_invoiced_comes_before_not_received_and_price_variance() -> None:
    invoice = match(
        [line("AB-1", "5", "11")],
        [line("AB-1", "10")],
        receipts=[receipt(delivered("AB-1", "8"))],
        before={"ab-1": Decimal("6")},
    )
    [found] = invoice.lines
    assert found.outcome is LineOutcome.ALREADY_INVOICED
    assert found.reasons == [
        "sku AB-1: 6 of 10 ordered were invoiced before; with this invoice 11",
        "sku AB-1: 11 invoiced, 8 received",
        "sku AB-1: price 11, ordered at 10",
    ]
    assert invoice.reasons == [f"lines[0]: {reason}" for reason in found.reasons]


def test_not_received_comes_before_quantity_and_price_variance() -> None:
    invoice = match(
        [line("AB-1", "12", "9")],
        [line("AB-1", "10")],
        receipts=[receipt(delivered("AB-1", "8"))],
    )
    [found] = invoice.lines
    assert found.outcome is LineOutcome.NOT_RECEIVED
    assert found.reasons == [
        "sku AB-1: 12 invoiced, 8 received",
        "sku AB-1: 12 invoiced, 10 ordered",
        "sku AB-1: price 9, ordered at 10",
    ]


def test_a_quantity_variance_comes_before_a_price_variance() -> None:
    invoice = match(
        [line("AB-1", "12", "9")],
        [line("AB-1", "10")],
        receipts=[receipt(delivered("AB-1", "12"))],
    )
    [found] = invoice.lines
    assert found.outcome is LineOutcome.QUANTITY_VARIANCE
    assert found.reasons == [
        "sku AB-1: 12 invoiced, 10 ordered",
        "sku AB-1: price 9, ordered at 10",
    ]


# Reading lines: repeats add up, keys ignore case and spaces, order values read by type.


def test_the_same_line_twice_in_one_invoice_adds_up() -> None:
    invoice = match([line("AB-1", "6"), line("ab-1", "5")], [line("AB-1", "10")])
    assert [found.outcome for found in invoice.lines] == [
        LineOutcome.MATCHED,
        LineOutcome.QUANTITY_VARIANCE,
    ]
    assert invoice.reasons == ["lines[1]: sku ab-1: 11 invoiced, 10 ordered"]
    assert invoice.invoiced_lines() == {"ab-1": Decimal("11")}


def test_repeats_within_an_invoice_add_to_what_was_invoiced_before() -> None:
    invoice = match(
        [line("AB-1", "4"), line("AB-1", "4")],
        [line("AB-1", "10")],
        before={"ab-1": Decimal("3")},
    )
    assert [found.outcome for found in invoice.lines] == [
        LineOutcome.MATCHED,
        LineOutcome.ALREADY_INVOICED,
    ]
    assert invoice.reasons == [
        "lines[1]: sku AB-1: 3 of 10 ordered were invoiced before; with this invoice 11"
    ]


@pytest.mark.parametrize(
    ("invoiced", "ordered"),
    [("ab-1", "AB-1"), ("AB-1", " ab-1 "), ("ab  1", "AB 1"), ("Straße", "STRASSE")],
)
def test_lines_match_whatever_their_case_and_spaces(invoiced: str, ordered: str) -> None:
    invoice = match([line(invoiced, "10")], [line(ordered, "10")])
    assert invoice.matched
    assert invoice.lines[0].line == invoiced


def test_receipts_and_earlier_invoices_find_their_line_whatever_its_case_and_spaces() -> None:
    invoice = match(
        [line(" Ab-1", "3")],
        [line("aB-1 ", "10")],
        receipts=[receipt(delivered("AB-1", "2"))],
        before={"ab-1": Decimal("8")},
    )
    # Receipts are measured against all that was invoiced, before and now.
    assert invoice.lines[0].outcome is LineOutcome.ALREADY_INVOICED
    assert invoice.lines[0].reasons == [
        "sku  Ab-1: 8 of 10 ordered were invoiced before; with this invoice 11",
        "sku  Ab-1: 11 invoiced, 2 received",
    ]


def test_the_first_of_two_order_lines_with_the_same_value_counts() -> None:
    invoice = match([line("AB-1", "5")], [line("AB-1", "5"), line("ab-1", "1")])
    assert invoice.matched


def test_order_and_receipt_values_are_read_as_the_table_column_reads_them() -> None:
    invoice = match(
        [line("AB-1", "1000", "1000.5")],
        [line("AB-1", "1,000", "1,000.50")],
        receipts=[receipt(delivered("AB-1", "1 000"))],
    )
    assert invoice.matched
    assert invoice.lines[0].as_json() == {
        "row": 0,
        "line": "AB-1",
        "outcome": "matched",
        "reasons": [],
        "invoiced": {"quantity": "1000", "price": "1000.5"},
        "ordered": {"quantity": "1000", "price": "1000.5"},
        "received": "1000",
    }


@pytest.mark.parametrize(
    ("separator", "price", "matched"),
    [(".", "1500", True), (".", "1.5", False), (",", "1.5", True), (",", "1500", False)],
)
def test_an_order_price_is_read_with_the_columns_decimal_separator(
    separator: str, price: str, matched: bool
) -> None:
    lines = next(field for field in FIELDS if field["name"] == "lines")
    columns = [
        {**column, "decimal_separator": separator} if column["name"] == "price" else column
        for column in lines["columns"]
    ]
    fields = [field for field in FIELDS if field is not lines] + [{**lines, "columns": columns}]
    invoice = match([line("AB-1", "1", price)], [line("AB-1", "1", "1,500")], fields=fields)
    assert invoice.matched is matched


# The invoice: its reasons, what it bills, a missing receipts dataset.


def test_a_missing_receipts_dataset_is_a_reason_of_the_invoice() -> None:
    rule, table = rule_and_table({"receipts": RECEIPTS})
    found = Found(
        LookupResult(True, {"number": ORDER, "lines": [line("AB-1", "10")]}),
        receipts=None,
        invoiced_before={},
        receipts_exist=False,
    )
    invoice = match_invoice(rule, table, {"po": ORDER, "lines": [line("AB-1", "10")]}, found)
    assert invoice.reasons == ["there is no goods-receipt dataset goods-receipts"]
    assert not invoice.matched
    # Nothing is known of deliveries: the line is not said to be short of them.
    assert invoice.lines[0].as_json()["received"] is None
    with_empty_receipts = Found(found.order, [], {}, receipts_exist=False)
    again = match_invoice(
        rule, table, {"po": ORDER, "lines": [line("AB-1", "10")]}, with_empty_receipts
    )
    assert again.reasons == invoice.reasons


def test_line_values_are_read_as_the_line_column_reads_them() -> None:
    fields = [
        {**field, "columns": [{"name": "sku", "type": "integer"}, *field["columns"][1:]]}
        if field["name"] == "lines"
        else field
        for field in FIELDS
    ]
    invoice = match(
        [{"sku": 1, "qty": "2", "price": "10"}],
        [{"sku": "01", "qty": "2", "price": "10"}],
        receipts=[receipt({"sku": "1.0", "qty": "2"})],
        before={"1": Decimal(0)},
        fields=fields,
    )
    assert invoice.matched, invoice.reasons
    assert invoice.invoiced_lines() == {"1": Decimal(2)}


def test_numbers_of_sixty_digits_are_compared_exactly() -> None:
    big = "9" * 59 + ".9"
    invoice = match([line("A", big, big)], [line("A", big, big)])
    assert invoice.matched, invoice.reasons
    assert invoice.lines[0].as_json()["invoiced"] == {"quantity": big, "price": big}


def test_the_invoice_names_each_row_in_its_reasons_and_then_its_duplicates() -> None:
    rule, table = rule_and_table()
    result = {
        "po": ORDER,
        "lines": [line("AB-1", "11"), line("CD-2", "1"), line("ZZ-9", "1")],
    }
    order = LookupResult(True, {"lines": [line("AB-1", "10"), line("CD-2", "1")]})
    copy = "item 00000000-0000-0000-0000-000000000007 has the same vendor and invoice number"
    invoice = match_invoice(rule, table, result, Found(order, None, {}, [copy]))
    assert invoice.reasons == [
        "lines[0]: sku AB-1: 11 invoiced, 10 ordered",
        "lines[2]: sku ZZ-9 is not on order PO-1",
        f"duplicate: {copy}",
    ]
    assert not invoice.matched


def test_a_duplicate_alone_keeps_the_invoice_from_matching() -> None:
    rule, table = rule_and_table()
    order = LookupResult(True, {"lines": [line("AB-1", "10")]})
    result = {"po": ORDER, "lines": [line("AB-1", "10")]}
    invoice = match_invoice(rule, table, result, Found(order, None, {}, ["item x is a copy"]))
    assert [found.outcome for found in invoice.lines] == [LineOutcome.MATCHED]
    assert invoice.reasons == ["duplicate: item x is a copy"]
    assert not invoice.matched


def test_an_invoice_without_lines_against_its_order_is_matched() -> None:
    invoice = match([], [line("AB-1", "10")])
    assert invoice.lines == []
    assert invoice.matched


def test_what_an_invoice_bills_is_every_line_on_the_order_by_line() -> None:
    invoice = match(
        [
            line("AB-1", "4"),
            line("ZZ-9", "2"),
            line("CD-2", "3", "99"),
            line("ab-1 ", "1.5"),
            line("EF-3", "20"),
        ],
        [line("AB-1", "10"), line("CD-2", "3"), line("EF-3", "10")],
    )
    assert [found.outcome for found in invoice.lines] == [
        LineOutcome.MATCHED,
        LineOutcome.NOT_ON_ORDER,
        LineOutcome.PRICE_VARIANCE,
        LineOutcome.MATCHED,
        LineOutcome.QUANTITY_VARIANCE,
    ]
    assert invoice.invoiced_lines() == {
        "ab-1": Decimal("5.5"),
        "cd-2": Decimal("3"),
        "ef-3": Decimal("20"),
    }


# Duplicate invoices.

DUPLICATES: Row = {
    "vendor": "vendor",
    "number": "number",
    "amount": "total",
    "date": "issued",
    "days": 7,
}
ITEM, OTHER = UUID(int=1), UUID(int=2)


def duplicates_rule(**overrides: Any) -> Duplicates:
    rule, _ = rule_and_table({"duplicates": {**DUPLICATES, **overrides}})
    assert rule.duplicates is not None
    return rule.duplicates


def invoice(item_id: UUID, rule: Duplicates | None = None, **result: Any) -> Invoice:
    values = {"vendor": "ACME Corp", "number": "INV-1", "total": "100.50", "issued": "2024-03-01"}
    found = invoice_of(rule or duplicates_rule(), item_id, {**values, **result})
    assert found is not None
    return found


def test_an_invoice_is_known_by_its_vendor_number_amount_and_date() -> None:
    found = invoice_of(
        duplicates_rule(),
        ITEM,
        {"vendor": " ACME  Corp ", "number": "inv-1 ", "total": "100.50", "issued": "2024-03-01"},
    )
    assert found == Invoice(ITEM, "acme corp", "inv-1", Decimal("100.50"), date(2024, 3, 1))


@pytest.mark.parametrize("vendor", [None, "", "   "])
def test_an_invoice_naming_no_vendor_has_no_duplicates_to_find(vendor: str | None) -> None:
    assert invoice_of(duplicates_rule(), ITEM, {"vendor": vendor, "number": "INV-1"}) is None


def test_the_same_vendor_and_number_is_a_duplicate_whatever_the_case_and_spaces() -> None:
    rule = duplicates_rule()
    mine = invoice(ITEM, vendor="ACME Corp", number="INV-7", total="1", issued="2024-01-01")
    other = invoice(OTHER, vendor="acme  corp", number=" inv-7", total="2", issued="2020-01-01")
    assert duplicates(rule, mine, [other]) == [
        f"item {OTHER} has the same vendor and invoice number"
    ]


@pytest.mark.parametrize(
    ("issued", "duplicate"),
    [
        ("2024-03-08", True),
        ("2024-02-23", True),
        ("2024-03-09", False),
        ("2024-02-22", False),
    ],
    ids=["7 days later", "7 days earlier", "8 days later", "8 days earlier"],
)
def test_the_same_vendor_and_amount_within_the_days_is_a_duplicate(
    issued: str, duplicate: bool
) -> None:
    rule = duplicates_rule()
    mine = invoice(ITEM, number="INV-1", total="100.50")
    other = invoice(OTHER, number="INV-2", total="100.5", issued=issued)
    expected = [f"item {OTHER} has the same vendor and amount, dated {issued}"]
    assert duplicates(rule, mine, [other]) == (expected if duplicate else [])


def test_the_default_window_is_thirty_days() -> None:
    rule = Duplicates(vendor="vendor", number="number", amount="total", date="issued")
    assert rule.days == 30
    mine = invoice(ITEM, rule, number="INV-1")
    within = invoice(OTHER, rule, number="INV-2", issued="2024-03-31")
    beyond = invoice(UUID(int=3), rule, number="INV-3", issued="2024-04-01")
    assert duplicates(rule, mine, [within, beyond]) == [
        f"item {OTHER} has the same vendor and amount, dated 2024-03-31"
    ]


def test_the_same_vendor_with_another_number_and_amount_is_not_a_duplicate() -> None:
    rule = duplicates_rule()
    mine = invoice(ITEM)
    other = invoice(OTHER, number="INV-2", total="100.51")
    assert duplicates(rule, mine, [other]) == []


def test_another_vendors_invoice_is_not_a_duplicate() -> None:
    rule = duplicates_rule()
    mine = invoice(ITEM)
    other = invoice(OTHER, vendor="Globex")
    assert duplicates(rule, mine, [other]) == []


def test_an_invoice_does_not_duplicate_itself() -> None:
    rule = duplicates_rule()
    mine = invoice(ITEM)
    assert duplicates(rule, mine, [invoice(ITEM)]) == []


def test_every_invoice_it_duplicates_is_named() -> None:
    rule = duplicates_rule()
    third = UUID(int=3)
    mine = invoice(ITEM)
    others = [invoice(OTHER), invoice(ITEM), invoice(third, number="INV-9", issued="2024-03-02")]
    assert duplicates(rule, mine, others) == [
        f"item {OTHER} has the same vendor and invoice number",
        f"item {third} has the same vendor and amount, dated 2024-03-02",
    ]
