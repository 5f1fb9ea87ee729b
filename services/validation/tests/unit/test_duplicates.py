"""Finding duplicate invoices: the same vendor and number, or the same vendor and amount dated
close together."""

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bpo_common.rules.matching import Duplicates
from bpo_validation.domain.duplicates import Invoice, duplicates, invoice_of

from .invoices import (
    Row,
    rule_and_table,
)

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


def test_an_amount_or_date_a_stored_rule_reads_from_text_does_not_count() -> None:
    found = invoice(ITEM, total="1,234.50 EUR", issued="03/04/2026")
    assert (found.amount, found.dated) == (None, None)
    assert invoice(ITEM, total="NaN").amount is None
    assert invoice(ITEM, total="1E+200000").amount is None
