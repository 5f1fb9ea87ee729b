"""Matching an invoice: which outcome comes first, how lines are found and read, and what the
invoice as a whole says and bills."""

from decimal import Decimal

import pytest

from bpo_validation.domain.matching import (
    Found,
    InvoiceOutcome,
    LineOutcome,
    match_invoice,
)
from bpo_validation.domain.reference import LookupResult

from .invoices import FIELDS, ORDER, RECEIPTS, delivered, line, match, receipt, rule_and_table

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
    assert invoice.outcome is InvoiceOutcome.DUPLICATE
    # A duplicate comes before a line that does not match.
    worse = {"po": ORDER, "lines": [line("AB-1", "11")]}
    again = match_invoice(rule, table, worse, Found(order, None, {}, ["item x is a copy"]))
    assert again.outcome is InvoiceOutcome.DUPLICATE


def test_the_invoice_as_a_whole_has_an_outcome() -> None:
    assert match([line("AB-1", "10")], [line("AB-1", "10")]).outcome is InvoiceOutcome.MATCHED
    assert match([line("AB-1", "11")], [line("AB-1", "10")]).outcome is InvoiceOutcome.MISMATCH
    rule, table = rule_and_table()
    missing = Found(LookupResult(True, None), None, {})
    invoice = match_invoice(rule, table, {"po": ORDER, "lines": [line("AB-1", "1")]}, missing)
    assert invoice.outcome is InvoiceOutcome.NO_ORDER


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
