"""Checking a whole submission: every problem at once, and the record in canonical form."""

import json

from bpo_common.errors import FieldError
from bpo_common.rules import JobSpec, check, differing_fields

INVOICE = JobSpec.model_validate(
    {
        "fields": [
            {"name": "invoice_no", "type": "string", "case": "upper", "max_length": 20},
            {"name": "issued", "type": "date", "date_formats": ["%d.%m.%Y"]},
            {"name": "due", "type": "date", "required": False},
            {"name": "net", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
            {"name": "tax", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
            {"name": "total", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
            {"name": "iban", "type": "iban"},
            {"name": "vat_id", "type": "vat", "country": "DE", "required": False},
            {"name": "email", "type": "email", "required": False},
            {"name": "phone", "type": "phone", "country": "DE", "required": False},
            {"name": "currency", "type": "enum", "choices": ["EUR", "USD"]},
            {"name": "paid", "type": "boolean", "required": False},
            {"name": "lines", "type": "integer", "min": 1},
        ],
        "rules": ["total == net + tax", "due >= issued"],
    }
)

GOOD = {
    "invoice_no": " inv-2024-001 ",
    "issued": "01.03.2024",
    "due": "2024-03-31",
    "net": "1.000,00",
    "tax": "190",
    "total": "1.190,00",
    "iban": "DE89 3704 0044 0532 0130 00",
    "vat_id": "136695976",
    "email": "Billing@Example.COM",
    "phone": "(030) 123-4567",
    "currency": "eur",
    "paid": "no",
    "lines": "3",
}


def test_a_good_submission_is_valid_and_normalized_to_json() -> None:
    result = check(INVOICE, GOOD)
    assert result.valid
    assert result.errors == []
    assert result.normalized == {
        "invoice_no": "INV-2024-001",
        "issued": "2024-03-01",
        "due": "2024-03-31",
        "net": "1000.00",
        "tax": "190.00",
        "total": "1190.00",
        "iban": "DE89370400440532013000",
        "vat_id": "DE136695976",
        "email": "Billing@example.com",
        "phone": "+49301234567",
        "currency": "EUR",
        "paid": False,
        "lines": 3,
    }
    assert json.loads(json.dumps(result.normalized)) == result.normalized


def test_empty_optional_fields_are_none() -> None:
    data = {**GOOD, "due": "", "vat_id": None, "email": "  "}
    del data["phone"], data["paid"]
    result = check(INVOICE, data)
    assert result.valid
    assert {k: result.normalized[k] for k in ("due", "vat_id", "email", "phone", "paid")} == {
        "due": None,
        "vat_id": None,
        "email": None,
        "phone": None,
        "paid": None,
    }


def test_every_bad_field_is_reported_at_once() -> None:
    data = {
        **GOOD,
        "issued": "2024-02-30",
        "net": "abc",
        "iban": "DE89 3704 0044 0532 0130 01",
        "vat_id": "DE136695977",
        "email": "billing.example.com",
        "currency": "GBP",
        "paid": "maybe",
        "lines": "0",
        "colour": "red",
    }
    del data["total"]
    result = check(INVOICE, data)
    assert not result.valid
    assert result.errors == [
        FieldError("colour", "not a field of this job"),
        FieldError("issued", "not a valid date: use YYYY-MM-DD, DD.MM.YYYY"),
        FieldError("net", "not a number"),
        FieldError("total", "required"),
        FieldError("iban", "not a valid IBAN: checksum does not match"),
        FieldError("vat_id", "not a valid EU VAT number: checksum does not match"),
        FieldError("email", "not a valid email address: An email address must have an @-sign."),
        FieldError("currency", "must be one of: EUR, USD"),
        FieldError("paid", "must be yes or no (also true/false, 1/0)"),
        FieldError("lines", "must be at least 1"),
    ]
    assert "net" not in result.normalized
    assert result.normalized["invoice_no"] == "INV-2024-001"


def test_field_errors_and_rule_errors_come_together() -> None:
    result = check(INVOICE, {**GOOD, "total": "1.190,01", "due": "2024-02-01", "lines": "x"})
    assert [error.field for error in result.errors] == ["lines", "rules[0]", "rules[1]"]
    assert result.errors[1].message == (
        "rule not met: total == net + tax (total=1190.01, net=1000.00, tax=190.00)"
    )


def test_a_partial_record_checks_only_the_fields_it_has() -> None:
    result = check(INVOICE, {"total": "1.190,00", "currency": "usd"}, partial=True)
    assert result.valid
    assert result.normalized == {"total": "1190.00", "currency": "USD"}
    assert not check(INVOICE, {"total": ""}, partial=True).valid


def test_differing_fields_names_the_fields_two_keyings_disagree_on() -> None:
    other = {**GOOD, "net": "1000", "total": "1.190,10", "phone": "+49 30 1234567", "due": None}
    assert differing_fields(INVOICE, GOOD, other) == ["due", "total"]
    assert differing_fields(INVOICE, GOOD, dict(GOOD)) == []


def test_a_rule_not_met_masks_the_personal_values_it_read() -> None:
    spec = JobSpec.model_validate(
        {
            "fields": [
                {"name": "birth", "type": "date", "pii": True},
                {"name": "signed", "type": "date"},
                {"name": "lines", "type": "table", "columns": [
                    {"name": "qty", "type": "integer", "pii": True},
                    {"name": "max", "type": "integer"}]},
            ],
            "rules": ["birth < signed", "lines.qty <= lines.max"],
        }
    )  # fmt: skip
    data = {"birth": "1980-01-02", "signed": "1979-05-05", "lines": [{"qty": 7, "max": 5}]}
    assert [error.message for error in check(spec, data).errors] == [
        "rule not met: birth < signed (birth=•••, signed=1979-05-05)",
        "rule not met on lines[0]: lines.qty <= lines.max (lines[0].qty=•••, lines[0].max=5)",
    ]


def test_a_rule_adds_values_of_as_many_digits_as_a_field_takes_exactly() -> None:
    spec = JobSpec.model_validate(
        {
            "fields": [{"name": name, "type": "decimal"} for name in ("net", "tax", "total")],
            "rules": ["total == net + tax", "total * 2 == net * 2 + tax * 2"],
        }
    )
    big = "1" + "0" * 40
    record = {"net": f"{big}.01", "tax": "0.01", "total": f"{big}.02"}
    assert check(spec, record).valid
    assert not check(spec, record | {"total": f"{big}.03"}).valid
