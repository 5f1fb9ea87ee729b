"""Job specs: a broken spec is refused when the job is created, with the path to fix."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from bpo_common.errors import FieldError
from bpo_common.events import STORED
from bpo_common.rules import FieldSpec, JobSpec, spec_errors


def _errors(fields: list[dict[str, Any]], rules: list[str] | None = None) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate({"fields": fields, "rules": rules or []})
    return spec_errors(caught.value)


def _paths(fields: list[dict[str, Any]], rules: list[str] | None = None) -> list[str]:
    return [error.field for error in _errors(fields, rules)]


def test_a_rule_that_does_not_fit_its_type_is_named_by_its_path() -> None:
    errors = _errors(
        [
            {"name": "a", "type": "string"},
            {"name": "b", "type": "string"},
            {"name": "qty", "type": "integer", "min_length": 2},
        ]
    )
    assert errors == [
        FieldError(
            "fields[2].min_length",
            "min_length does not apply to integer fields (only to email, string)",
        )
    ]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ({"name": "x", "type": "string", "choices": ["a"]}, "fields[0].choices"),
        ({"name": "x", "type": "email", "min": 1}, "fields[0].min"),
        ({"name": "x", "type": "integer", "pattern": "^1"}, "fields[0].pattern"),
        ({"name": "x", "type": "decimal", "case": "upper"}, "fields[0].case"),
        ({"name": "x", "type": "integer", "decimal_places": 2}, "fields[0].decimal_places"),
        ({"name": "x", "type": "string", "date_formats": ["%d.%m.%Y"]}, "fields[0].date_formats"),
        ({"name": "x", "type": "string", "country": "DE"}, "fields[0].country"),
        ({"name": "x", "type": "date", "decimal_separator": ","}, "fields[0].decimal_separator"),
        ({"name": "x", "type": "iban", "max_length": 30}, "fields[0].max_length"),
    ],
)
def test_rules_are_refused_on_types_they_do_not_fit(field: dict[str, Any], path: str) -> None:
    assert _paths([field]) == [path]


def test_every_misfit_in_every_field_is_reported_at_once() -> None:
    paths = _paths(
        [
            {"name": "a", "type": "integer", "min_length": 1, "case": "upper"},
            {"name": "b", "type": "email", "min": 1},
        ]
    )
    assert paths == ["fields[0].min_length", "fields[0].case", "fields[1].min"]


def test_an_enum_needs_choices() -> None:
    assert _errors([{"name": "status", "type": "enum"}]) == [
        FieldError("fields[0].choices", "enum fields need choices")
    ]


def test_choices_that_differ_only_in_case_are_refused() -> None:
    [error] = _errors([{"name": "s", "type": "enum", "choices": ["Paid", "PAID", "open"]}])
    assert error.field == "fields[0].choices"
    assert "PAID, Paid" in error.message


def test_a_bad_regular_expression_is_a_spec_error() -> None:
    [error] = _errors([{"name": "code", "type": "string", "pattern": "[A-Z"}])
    assert error.field == "fields[0].pattern"
    assert error.message.startswith("not a valid regular expression")


def test_a_pattern_outside_re2_syntax_is_a_spec_error_that_says_so() -> None:
    [error] = _errors([{"name": "code", "type": "string", "pattern": r"(?=A)\w+"}])
    assert error.field == "fields[0].pattern"
    assert error.message == (
        "not a valid regular expression: invalid perl operator: (?= (patterns use RE2 syntax, "
        "which has no look-around and no back-references)"
    )


def test_a_pattern_with_braces_keeps_them_in_the_message() -> None:
    [error] = _errors([{"name": "code", "type": "integer", "pattern": r"\d{2}"}])
    assert error.message.startswith("pattern does not apply")


def test_bounds_must_be_of_the_field_kind_and_in_order() -> None:
    assert _paths([{"name": "d", "type": "date", "min": 5}]) == ["fields[0].min"]
    assert _paths([{"name": "n", "type": "integer", "max": "2024-01-01"}]) == ["fields[0].max"]
    assert _paths([{"name": "n", "type": "integer", "min": 1.5}]) == ["fields[0].min"]
    assert _errors([{"name": "n", "type": "decimal", "min": 10, "max": 1}]) == [
        FieldError("fields[0].max", "max must not be less than min")
    ]
    assert _paths([{"name": "s", "type": "string", "min_length": 5, "max_length": 2}]) == [
        "fields[0].max_length"
    ]


def test_bounds_keep_their_kind() -> None:
    spec = FieldSpec.model_validate(
        {"name": "d", "type": "date", "min": "2024-01-01", "max": "2024-12-31"}
    )
    assert spec.min == date(2024, 1, 1)
    money = FieldSpec.model_validate({"name": "m", "type": "decimal", "min": 0.1, "max": "99.5"})
    assert money.min == Decimal("0.1")
    assert money.max == Decimal("99.5")


@pytest.mark.parametrize("bad", ["%m/%Y", "%d/%m/%Y %Y", "%d/%m/%Y %"])
def test_a_date_format_without_day_month_and_year_or_unreadable_is_refused(bad: str) -> None:
    [error] = _errors([{"name": "d", "type": "date", "date_formats": ["%d/%m/%Y", bad]}])
    assert error.field == "fields[0].date_formats"
    assert repr(bad) in error.message


def test_a_country_must_be_known_for_its_type() -> None:
    assert _paths([{"name": "p", "type": "phone", "country": "XX"}]) == ["fields[0].country"]
    assert _paths([{"name": "v", "type": "vat", "country": "US"}]) == ["fields[0].country"]
    assert FieldSpec(name="p", type="phone", country="de").country == "DE"


def test_unknown_keys_and_types_are_refused() -> None:
    assert _paths([{"name": "x", "type": "string", "colour": "red"}]) == ["fields[0].colour"]
    assert _paths([{"name": "x", "type": "float"}]) == ["fields[0].type"]
    assert _paths([{"name": "1x", "type": "string"}]) == ["fields[0].name"]


def test_duplicate_field_names_are_an_error_on_fields() -> None:
    errors = _errors(
        [
            {"name": "a", "type": "string"},
            {"name": "b", "type": "date"},
            {"name": "a", "type": "integer"},
        ]
    )
    assert errors == [FieldError("fields", "field names must be unique; repeated: a")]


def test_a_spec_round_trips_through_json() -> None:
    spec = JobSpec.model_validate(
        {
            "fields": [
                {"name": "net", "type": "decimal", "decimal_places": 2, "min": "0.01"},
                {"name": "issued", "type": "date", "date_formats": ["%d.%m.%Y"]},
                {"name": "status", "type": "enum", "choices": ["paid", "open"]},
            ],
            "rules": ["net > 0"],
        }
    )
    again = JobSpec.model_validate_json(spec.model_dump_json(exclude_none=True))
    assert again == spec
    assert again.compiled_rules[0].names == ("net",)
    assert spec.field("status").choices == ("paid", "open")


def test_specs_are_frozen() -> None:
    spec = FieldSpec(name="a", type="string")
    with pytest.raises(ValidationError):
        spec.required = False  # type: ignore[misc]


def test_a_new_spec_is_bounded_and_a_stored_one_is_read_as_accepted() -> None:
    # Every submission is checked against the whole spec, and the job's announcement carries
    # it: a NATS message has at most 8 MiB.
    text = {"name": "a", "type": "string"}
    menu = {"name": "colour", "type": "enum", "choices": ["red", "x" * 201]}
    dated = {"name": "day", "type": "date", "date_formats": ["%d.%m.%Y" + " " * 100]}
    assert _errors([text, menu, dated], ["a != 'b'"] * 201) == [
        FieldError("rules", "a job has at most 200 rules"),
        FieldError("fields[1].choices[1]", "a choice has at most 200 characters"),
        FieldError("fields[2].date_formats[0]", "a date format has at most 100 characters"),
    ]
    many = [{"name": f"f{i}", "type": "string"} for i in range(201)]
    assert _errors(many) == [FieldError("fields", "a job has at most 200 fields")]
    wide = [
        {"name": f"f{i}", "type": "enum", "choices": [f"{i}-{j:03}" + "y" * 150 for j in range(40)]}
        for i in range(200)
    ]
    assert _errors(wide) == [
        FieldError("fields", "the fields and rules take more than 1,000,000 bytes as JSON")
    ]
    stored = {"fields": [*many, menu], "rules": ["f1 != 'b'"] * 201}
    spec = JobSpec.model_validate(stored, context={STORED: True})
    assert len(spec.fields) == 202, "a job that exists stays readable"
