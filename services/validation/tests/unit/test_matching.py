"""Matching an invoice against its purchase order and goods receipts: every line outcome,
alone, and the tolerances at their edges."""

from decimal import Decimal
from typing import Any

import pytest

from bpo_common.contracts import ExceptionAction
from bpo_common.contracts.sealed import MAX_RECORD_BYTES
from bpo_common.errors import Invalid
from bpo_common.rules import JobSpec
from bpo_validation.domain.matching import (
    Found,
    LineOutcome,
    match_invoice,
)
from bpo_validation.domain.reference import LookupResult
from bpo_validation.schemas import ExceptionResolve
from bpo_validation.service.exceptions import resolved_result

from .invoices import FIELDS, ORDER, delivered, line, match, receipt, rule_and_table

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


# A job whose line, quantity and price columns are optional.
OPTIONAL = [
    *FIELDS[:-1],
    {
        "name": "lines",
        "type": "table",
        "required": False,
        "columns": [
            {"name": "sku", "type": "string", "required": False},
            {"name": "qty", "type": "decimal", "required": False},
            {"name": "price", "type": "decimal", "required": False},
        ],
    },
]


def test_an_invoice_line_without_a_quantity_or_price_is_no_match() -> None:
    ordered = [line("AB-1", "10", "12.5")]
    without = match([{"sku": "AB-1", "qty": None, "price": None}], ordered, fields=OPTIONAL)
    assert without.lines[0].outcome is LineOutcome.QUANTITY_VARIANCE
    assert without.reasons == [
        "lines[0]: sku AB-1: no qty invoiced",
        "lines[0]: sku AB-1: no price invoiced",
    ]
    priced_only = match([{"sku": "AB-1", "qty": "10", "price": None}], ordered, fields=OPTIONAL)
    assert priced_only.lines[0].outcome is LineOutcome.PRICE_VARIANCE


def test_an_invoice_line_that_names_no_line_is_not_on_order_saying_it_gives_none() -> None:
    unnamed: list[dict[str, Any]] = [
        {"sku": None, "qty": "1", "price": "12.5"},
        {"sku": " ", "qty": "1", "price": "1"},
    ]
    invoice = match(unnamed, [line("AB-1", "10", "12.5")], fields=OPTIONAL)
    assert [found.outcome for found in invoice.lines] == [LineOutcome.NOT_ON_ORDER] * 2
    assert invoice.reasons == [
        "lines[0]: no sku given, so it matches no line of order PO-1",
        "lines[1]: no sku given, so it matches no line of order PO-1",
    ]


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


def test_a_line_ordered_twice_adds_up_and_is_priced_by_the_nearest_of_its_prices() -> None:
    twice = [line("AB-1", "5", "5.00"), line("AB-1", "5", "4.50")]
    invoice = match([line("AB-1", "6", "4.50"), line("AB-1", "4", "5.00")], twice)
    assert invoice.matched, invoice.reasons
    assert [(found.ordered_quantity, found.ordered_price) for found in invoice.lines] == [
        ("10", "4.5"),
        ("10", "5"),
    ]
    over = match([line("AB-1", "11", "4.80")], twice)
    assert over.reasons == [
        "lines[0]: sku AB-1: 11 invoiced, 10 ordered",
        "lines[0]: sku AB-1: price 4.8, ordered at 5",
    ]


def test_a_line_longer_than_a_key_may_be_is_never_matched_nor_remembered() -> None:
    long = "S" * 501
    invoice = match([line(long, "1")], [line(long, "1")])
    assert [found.outcome for found in invoice.lines] == [LineOutcome.NOT_ON_ORDER]
    assert invoice.invoiced_lines() == {}


def test_a_negative_quantity_matches_no_order_and_never_lowers_what_was_invoiced() -> None:
    invoice = match([line("AB-1", "-5"), line("AB-1", "15")], [line("AB-1", "10")])
    assert [found.outcome for found in invoice.lines] == [LineOutcome.QUANTITY_VARIANCE] * 2
    assert invoice.reasons == [
        "lines[0]: sku AB-1: -5 invoiced: a negative quantity matches no order",
        "lines[1]: sku AB-1: 15 invoiced, 10 ordered",
    ]
    assert invoice.invoiced_lines() == {"ab-1": Decimal("15")}


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


# A quantity tolerance of 2 % or 1 on 50: 51 is at the edge, 51.01 just past it.
QUANTITY_EDGES = [
    ({"percent": "2"}, "51", True),
    ({"percent": "2"}, "51.01", False),
    ({"absolute": "1"}, "51", True),
    ({"absolute": "1"}, "51.01", False),
]


@pytest.mark.parametrize(("tolerance", "qty", "matched"), QUANTITY_EDGES)
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


# 2 % of the 50 received, not of the 100 ordered.
@pytest.mark.parametrize(("tolerance", "qty", "matched"), QUANTITY_EDGES)
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


def test_a_correction_past_what_an_event_carries_is_refused_naming_its_field() -> None:
    # Its acceptance carries it sealed: at 2.3 MB it would never be sent, and its item wait.
    spec = JobSpec.model_validate({"fields": FIELDS}).reading_canonical()
    keyed: dict[str, object] = {"vendor": "ACME", "lines": [{"sku": "A", "qty": "1", "price": "5"}]}
    rows = [{"sku": f"{n:05}" + "x" * 4495, "qty": "1", "price": "5"} for n in range(500)]

    def corrected(data: dict[str, Any]) -> dict[str, object] | None:
        body = ExceptionResolve(action=ExceptionAction.CORRECT, data=data)
        return resolved_result(spec, dict(keyed), body)

    with pytest.raises(Invalid) as refused:
        corrected({"lines": rows})
    assert [error.field for error in refused.value.errors] == ["data.lines"]
    assert f"past the {MAX_RECORD_BYTES:,}" in refused.value.errors[0].message
    assert corrected({"lines": rows[:2]}) == {
        "vendor": "ACME",
        "po": None, "number": None, "total": None, "issued": None,
        "lines": [{**row, "qty": "1", "price": "5"} for row in rows[:2]],
    }  # fmt: skip
