"""The AP demo's scenario: every invoice passes the job's rules, and validation's matching
gives each the outcome it was built for (pure: no servers)."""

import random
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from bpo_cli import payables
from bpo_cli.main import app
from bpo_common.rules import JobSpec, check
from bpo_validation.domain.duplicates import Invoice, duplicates, invoice_of
from bpo_validation.domain.matching import Found, match_invoice
from bpo_validation.domain.reference import LookupResult, reference_key

SPEC = JobSpec.model_validate(
    {"fields": payables.FIELDS, "rules": payables.RULES, "match": payables.MATCH}
)


def _matched(scenario: payables.Scenario) -> dict[str, str]:
    """What validation's matching makes of each invoice, by item, keyed exactly and matched
    in the order the demo pushes them (the later ones after the rest)."""
    rule = SPEC.match
    assert rule is not None
    assert rule.duplicates is not None
    orders = {reference_key(order["po"]): order for order in scenario.orders}
    billed: dict[str, dict[str, Decimal]] = {}
    seen: list[Invoice] = []
    outcomes = {}
    for number, invoice in enumerate(scenario.wave(later=False) + scenario.wave(later=True)):
        checked = check(SPEC, invoice.truth)
        assert checked.errors == [], (invoice.item, checked.errors)
        result: dict[str, Any] = checked.normalized
        key = reference_key(result["po"])
        receipts = [r for r in scenario.receipts if reference_key(r["po"]) == key]
        item_id = UUID(int=number)
        identity = invoice_of(rule.duplicates, item_id, result)
        assert identity is not None
        found = Found(
            LookupResult(True, orders.get(key)),
            receipts,
            dict(billed.get(key, {})),
            duplicates(rule.duplicates, identity, seen),
        )
        outcome = match_invoice(rule, SPEC.field(payables.TABLE), result, found)
        before = billed.setdefault(key, {})
        for line, quantity in outcome.invoiced_lines().items():
            before[line] = before.get(line, Decimal(0)) + quantity
        seen.append(identity)
        lines = [line.as_json() for line in outcome.lines]
        outcomes[invoice.item] = payables.outcome_of(lines, outcome.reasons)
    return outcomes


@pytest.mark.parametrize(("count", "seed"), [(payables.MIN_INVOICES, 7), (60, 1), (500, 7)])
def test_each_invoice_gets_the_outcome_it_was_built_for(count: int, seed: int) -> None:
    scenario = payables.scenario(count, random.Random(seed))

    assert len(scenario.invoices) == count
    assert len({invoice.item for invoice in scenario.invoices}) == count
    assert _matched(scenario) == {invoice.item: invoice.expected for invoice in scenario.invoices}
    expected = [invoice.expected for invoice in scenario.invoices]
    assert sorted(e for e in expected if e != payables.MATCHED) == sorted(
        [
            payables.ALREADY_INVOICED,
            payables.DUPLICATE,
            payables.NOT_ON_ORDER,
            payables.NOT_RECEIVED,
            payables.PRICE_VARIANCE,
            payables.QUANTITY_VARIANCE,
        ]
    )
    assert expected.count(payables.MATCHED) > count / 2
    edge = [invoice for invoice in scenario.invoices if "tolerance's edge" in invoice.story]
    assert [invoice.expected for invoice in edge] == [payables.MATCHED]


def test_the_correction_bills_what_was_ordered_and_passes_the_rules() -> None:
    scenario = payables.scenario(payables.MIN_INVOICES, random.Random(7))
    (over,) = [i for i in scenario.invoices if i.expected == payables.QUANTITY_VARIANCE]
    po = next(order for order in scenario.orders if order["po"] == over.po)
    result = check(SPEC, over.truth).normalized
    lines = [
        {"row": row, "ordered": {"quantity": str(ordered["qty"])}}
        for row, ordered in enumerate(po["lines"])
    ]

    corrected = payables.as_ordered({"result": result, "lines": lines})

    assert [line["qty"] for line in corrected["lines"]] == [line["qty"] for line in po["lines"]]
    assert check(SPEC, {**result, **corrected}).errors == []
    assert Decimal(corrected["total"]) < Decimal(over.truth["total"])


def test_fewer_invoices_than_the_scenario_needs_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {payables.MIN_INVOICES}"):
        payables.scenario(payables.MIN_INVOICES - 1, random.Random(7))


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (["--documents"], "--ap keys invoices without documents"),
        (["--items", "12"], f"--ap needs at least {payables.MIN_INVOICES} invoices"),
    ],
)
def test_the_ap_demo_refuses_what_it_cannot_do(options: list[str], refusal: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--ap", *options], env={"COLUMNS": "200"})

    assert result.exit_code == 2, result.output
    assert refusal in result.output
