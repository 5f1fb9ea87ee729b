"""Numbers of fields whose decimal point is ',': what intake checked comes on in canonical
form ("12.345" for 12,345), which validation reads back as the same number, while what a
client wrote (its values in a verify job, its reference data, its orders) reads as written."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bpo_common.contracts import ExceptionAction, QcMode, QcPolicy
from bpo_common.errors import Invalid
from bpo_common.ids import new_id
from bpo_common.rules import check
from bpo_validation.domain.matching import Found, LineOutcome, match_invoice
from bpo_validation.domain.reference import LookupResult, Wanted
from bpo_validation.domain.verdicts import Ruling
from bpo_validation.models import JobRules
from bpo_validation.schemas import ExceptionResolve
from bpo_validation.service.entries import Rules
from bpo_validation.service.exceptions import resolved_result

from .walking import keying, walk

COMMA = {"type": "decimal", "decimal_separator": ","}
FIELDS: list[dict[str, Any]] = [
    {"name": "net", **COMMA},
    {"name": "tax", **COMMA},
    {"name": "total", **COMMA, "lookup": {"dataset": "totals", "checks": [
        {"field": "total", "column": "amount", "tolerance": "0.001"}]}},
]  # fmt: skip
LINES: dict[str, Any] = {
    "name": "lines",
    "type": "table",
    "columns": [
        {"name": "sku", "type": "string"},
        {"name": "qty", "type": "decimal", "decimal_separator": ",", "max": 1000},
        {"name": "price", "type": "decimal", "decimal_separator": ",", "decimal_places": 2},
    ],
}
MATCH = {"orders": "orders", "order_field": "po", "table": "lines", "line": "sku",
         "quantity": "qty", "price": "price",
         "tolerances": {"price": {"percent": "2"}}}  # fmt: skip


def _rules(
    fields: list[dict[str, Any]], rules: list[str], qc: QcPolicy, match: dict[str, Any] | None
) -> Rules:
    """The job's rules as validation builds them from what intake announced."""
    job = JobRules(
        job_id=new_id(), client_id=new_id(), work_type="invoice", fields=fields, rules=rules,
        match=match, qc=qc.model_dump(mode="json"), received_at=datetime.now(UTC),
        sample_key=b"",
    )  # fmt: skip
    return Rules.of(job)


def test_a_keying_intake_made_canonical_is_accepted_as_the_keyer_meant_it() -> None:
    rules = _rules(FIELDS, ["total == net + tax"], QcPolicy(), None)
    typed = {"net": "1.000,125", "tax": "0,125", "total": "1.000,25"}
    sent = check(rules.spec.source, typed).normalized
    assert sent == {"net": "1000.125", "tax": "0.125", "total": "1000.25"}
    # The reference row, as the client wrote it: 1.000,25 and, in a field with ',', 1.000,250.
    found = {Wanted("totals", "1000.25"): LookupResult(True, {"amount": "1.000,250"})}

    (verdict,) = walk(rules.spec, QcPolicy(), [keying(sent)], found=found)

    assert (verdict.ruling, verdict.reason) == (Ruling.ACCEPT, "single keying, valid")
    assert verdict.result == sent


def test_a_verifier_who_keeps_the_clients_values_keeps_them_as_the_client_wrote_them() -> None:
    verify = QcPolicy(mode=QcMode.VERIFY)
    rules = _rules(FIELDS[:2], [], verify, None)
    client = {"net": "12,345", "tax": "0,125"}
    kept = check(rules.spec.source, client).normalized

    (verdict,) = walk(rules.spec, verify, [keying(kept, client_values=client)])

    assert verdict.ruling is Ruling.ACCEPT, verdict.reason
    assert verdict.result == {"net": "12.345", "tax": "0.125"}


def test_an_order_reads_as_the_client_wrote_it_and_is_not_held_to_the_invoices_limits() -> None:
    fields = [{"name": "po", "type": "string"}, LINES]
    rules = _rules(fields, [], QcPolicy(), MATCH)
    assert rules.spec.match is not None
    sent = check(
        rules.spec.source,
        {"po": "PO-1", "lines": [{"sku": "A", "qty": "2,125", "price": "5,13"},
                                 {"sku": "B", "qty": "900", "price": "1,00"}]},
    ).normalized  # fmt: skip
    order = {"number": "PO-1", "lines": [{"sku": "A", "qty": "2,125", "price": "5,125"},
                                         {"sku": "B", "qty": "5.000", "price": "1"}]}  # fmt: skip
    found = Found(LookupResult(True, order), None, {})

    invoice = match_invoice(
        rules.spec.match,
        rules.spec.field("lines"),
        sent,
        found,
        written=rules.spec.source.field("lines"),
    )

    assert invoice.reasons == []
    assert [(line.outcome, line.quantity, line.ordered_quantity) for line in invoice.lines] == [
        (LineOutcome.MATCHED, "2.125", "2.125"),
        (LineOutcome.MATCHED, "900", "5000"),
    ]
    assert invoice.lines[0].ordered_price == "5.125"
    assert Decimal(invoice.invoiced_lines()["a"]) == Decimal("2.125")


def test_a_correction_reads_as_the_client_wrote_it_and_one_that_does_not_read_is_refused() -> None:
    rules = _rules([{"name": "net", **COMMA, "max": 1000}, {"name": "tax", **COMMA}], [],
                   QcPolicy(), None)  # fmt: skip
    keyed = {"net": "10", "tax": "0.125"}

    def corrected(data: dict[str, Any]) -> dict[str, object] | None:
        body = ExceptionResolve(action=ExceptionAction.CORRECT, data=data)
        return resolved_result(rules.spec, dict(keyed), body)

    assert corrected({"net": "12,345"}) == {"net": "12.345", "tax": "0.125"}
    with pytest.raises(Invalid) as refused:
        corrected({"net": "1.500"})  # 1500, over the field's max
    assert [error.field for error in refused.value.errors] == ["data.net"]


def test_a_reference_value_is_read_as_the_client_wrote_it_even_past_the_fields_places() -> None:
    fields = [FIELDS[0], {**FIELDS[2], "decimal_places": 2}]
    rules = _rules(fields, [], QcPolicy(), None)
    keyed = {"net": "1", "total": "1234.00"}
    for written, problems in (
        ("1.234,00", ()),
        ("1.234,0005", ()),  # within the tolerance, though past the field's places
        ("1,234", ("total 1234.00 differs from amount 1,234 by more than 0.001",)),
    ):
        found = {Wanted("totals", "1234.00"): LookupResult(True, {"amount": written})}
        (verdict,) = walk(rules.spec, QcPolicy(), [keying(keyed)], found=found)
        assert verdict.reference_problems == problems, written


def test_a_tolerance_on_a_whole_number_field_takes_a_reference_value_with_a_fraction() -> None:
    count = {"name": "count", "type": "integer", "lookup": {"dataset": "counts", "checks": [
        {"field": "count", "column": "expected", "tolerance": "1"}]}}  # fmt: skip
    rules = _rules([count], [], QcPolicy(), None)
    for written, problems in (
        ("10.4", ()),
        ("11.5", ("count 10 differs from expected 11.5 by more than 1",)),
    ):
        found = {Wanted("counts", "10"): LookupResult(True, {"expected": written})}
        (verdict,) = walk(rules.spec, QcPolicy(), [keying({"count": 10})], found=found)
        assert verdict.reference_problems == problems, written
