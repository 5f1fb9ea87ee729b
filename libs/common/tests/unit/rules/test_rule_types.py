"""One value of one field: what is accepted, its canonical form, and what the person is told."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from stdnum import iban

from bpo_common.rules import (
    FieldSpec,
    InvalidValue,
    equal_after_normalization,
    normalize_value,
    other_spellings,
)


def _field(type_: str, **rules: Any) -> FieldSpec:
    return FieldSpec.model_validate({"name": "x", "type": type_, **rules})


def _normal(type_: str, raw: object, **rules: Any) -> object:
    return normalize_value(_field(type_, **rules), raw)


def _refusal(type_: str, raw: object, **rules: Any) -> str:
    with pytest.raises(InvalidValue) as caught:
        normalize_value(_field(type_, **rules), raw)
    return caught.value.message


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_empty_is_required_or_none(raw: object) -> None:
    assert _refusal("string", raw) == "required"
    assert _refusal("decimal", raw) == "required"
    assert _normal("decimal", raw, required=False) is None


def test_strings_are_trimmed_collapsed_and_cased_on_request() -> None:
    assert _normal("string", "  Jane \t  Doe \n") == "Jane Doe"
    assert _normal("string", " jane doe ", case="upper") == "JANE DOE"
    assert _normal("string", "JANE", case="lower") == "jane"
    assert _normal("string", "Jane", case="none") == "Jane"
    assert _normal("string", "Cafe\u0301") == "Caf\u00e9"  # NFC
    once = _normal("string", "\u0390", case="upper")  # upper() decomposes it
    assert _normal("string", once, case="upper") == once
    assert _normal("string", 12345) == "12345"
    assert _refusal("string", ["a"]) == "must be text"


def test_string_limits_apply_to_the_canonical_value() -> None:
    assert _normal("string", "  ab  ", min_length=2, max_length=2) == "ab"
    assert _refusal("string", "a", min_length=2) == "must be at least 2 characters long"
    assert _refusal("string", "abc", max_length=2) == "must be at most 2 characters long"
    assert _normal("string", " de-123 ", pattern="[A-Z]{2}-[0-9]+", case="upper") == "DE-123"
    assert _refusal("string", "DE-123x", pattern="[A-Z]{2}-[0-9]+") == (
        "does not match the expected pattern [A-Z]{2}-[0-9]+"
    )


def test_a_pattern_that_backtracks_forever_elsewhere_answers_at_once() -> None:
    # A backtracking engine takes 2^n steps here; RE2 takes n.
    assert _refusal("string", "a" * 5000 + "!", pattern="(a+)+") == (
        "does not match the expected pattern (a+)+"
    )
    assert _normal("string", "a" * 5000, pattern="(a+)+") == "a" * 5000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(42, 42), ("42", 42), (" -7 ", -7), ("1,000", 1000), ("1 000 000", 1000000), ("3.0", 3)],
)
def test_integers(raw: object, expected: int) -> None:
    assert _normal("integer", raw) == expected


def test_integer_refusals() -> None:
    assert _refusal("integer", "1.5") == "must be a whole number"
    assert _refusal("integer", True) == "must be a number"
    assert _refusal("integer", "twelve") == "not a number"
    assert _refusal("integer", "0", min=1) == "must be at least 1"
    assert _refusal("integer", "11", max=10) == "must be at most 10"
    assert _normal("integer", "1.000", decimal_separator=",") == 1000


@pytest.mark.parametrize(
    ("raw", "separator", "expected"),
    [
        ("1000.5", ".", "1000.5"),
        ("1,000.50", ".", "1000.5"),
        ("1000.50", ".", "1000.5"),
        ("1.000,50", ".", "1000.5"),
        ("1.000,50", ",", "1000.5"),
        ("1 000,50", ",", "1000.5"),
        ("1'000.50", ".", "1000.5"),
        ("1,5", ".", "1.5"),
        ("1,500", ".", "1500"),
        ("1.500", ",", "1500"),
        ("0,500", ".", "0.5"),  # no thousands group starts with 0
        ("-0.125", ",", "-0.125"),
        ("1.5", ",", "1.5"),
        ("1.000.000", ".", "1000000"),
        ("-0.00", ".", "0"),
        ("\u2212 5".replace(" ", ""), ".", "-5"),
        ("+.25", ".", "0.25"),
        ("5.", ".", "5"),
        (1000.5, ".", "1000.5"),
        (0.1, ".", "0.1"),
        (Decimal("1E+3"), ".", "1000"),
        (7, ".", "7"),
    ],
)
def test_decimals_without_places_strip_trailing_zeros(
    raw: object, separator: str, expected: str
) -> None:
    assert _normal("decimal", raw, decimal_separator=separator) == expected


def test_decimals_with_places_have_exactly_that_many() -> None:
    assert _normal("decimal", "1,000.5", decimal_places=2) == "1000.50"
    assert _normal("decimal", 1000.5, decimal_places=2) == "1000.50"
    assert _normal("decimal", "7", decimal_places=2) == "7.00"
    assert _normal("decimal", "7.500", decimal_places=2) == "7.50"
    assert _normal("decimal", "-0", decimal_places=1) == "0.0"
    assert _refusal("decimal", "7.555", decimal_places=2) == "must have at most 2 decimal places"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "not a number"),
        ("1,2,3", "not a number: digits are grouped wrongly (use groups of three)"),
        ("1.2.3,4", "not a number: digits are grouped wrongly (use groups of three)"),
        ("1e5", "not a number"),
        ("١٢", "not a number"),
        ("NaN", "not a number"),
        (float("nan"), "must be a finite number"),
        (float("inf"), "must be a finite number"),
        ("9" * 101, "not a number: too long"),
        ("9" * 61, "has too many digits"),
        ({"amount": 1}, "must be a number"),
        (".", "not a number"),
    ],
)
def test_decimal_refusals(raw: object, message: str) -> None:
    assert _refusal("decimal", raw) == message


def test_decimal_bounds() -> None:
    assert _refusal("decimal", "-0.01", min=0) == "must be at least 0"
    assert _refusal("decimal", "99.51", max="99.50") == "must be at most 99.50"
    assert _normal("decimal", "99.5", max="99.50") == "99.5"


def test_dates_in_iso_or_the_listed_formats() -> None:
    formats = ["%d/%m/%Y", "%d.%m.%y"]
    assert _normal("date", "2024-03-02", date_formats=formats) == "2024-03-02"
    assert _normal("date", " 02/03/2024 ", date_formats=formats) == "2024-03-02"
    assert _normal("date", "2.3.24", date_formats=formats) == "2024-03-02"
    assert _normal("date", date(2024, 3, 2)) == "2024-03-02"
    assert _refusal("date", "31/02/2024", date_formats=formats) == (
        "not a valid date: use YYYY-MM-DD, DD/MM/YYYY, DD.MM.YY"
    )
    assert _refusal("date", "02/03/2024") == "not a valid date: use YYYY-MM-DD"
    assert _refusal("date", datetime(2024, 3, 2, 10)) == "must be a date without a time"
    assert _refusal("date", 20240302) == "must be a date as text"


def test_date_bounds() -> None:
    assert _refusal("date", "2023-12-31", min="2024-01-01") == "must be on or after 2024-01-01"
    assert _refusal("date", "2025-01-01", max="2024-12-31") == "must be on or before 2024-12-31"


def test_a_date_before_the_year_1000_is_refused_unless_the_fields_min_allows_it() -> None:
    """A year keyed with two digits: a browser's date input takes `26` as 0026."""
    assert _refusal("date", "0026-01-31") == (
        "must be on or after 1000-01-01: key the year with its four digits"
    )
    assert _normal("date", "1850-06-01") == "1850-06-01", "an old register's date"
    assert _normal("date", "0800-01-01", min="0700-01-01") == "0800-01-01"


def test_emails_by_email_validator_without_dns() -> None:
    assert _normal("email", "  Jane.Doe@Example.COM ") == "Jane.Doe@example.com"
    assert _normal("email", "info@no-such-domain-for-sure.invalid-tld") == (
        "info@no-such-domain-for-sure.invalid-tld"
    )
    assert _refusal("email", "jane.example.com") == (
        "not a valid email address: An email address must have an @-sign."
    )
    assert _refusal("email", "jane@example.com", max_length=10) == (
        "must be at most 10 characters long"
    )


def test_phones_become_e164() -> None:
    assert _normal("phone", "+49 (30) 1234-567") == "+49301234567"
    assert _normal("phone", "030 1234567", country="DE") == "+49301234567"
    assert _normal("phone", "(201) 555-0123", country="US") == "+12015550123"
    assert _normal("phone", "+1 201 555 0123", country="DE") == "+12015550123"
    assert _refusal("phone", "030 1234567") == (
        "not a valid phone number: start with + and the country code"
    )
    assert _refusal("phone", "+49 1") == "not a valid phone number: too short"
    assert _refusal("phone", "+1 200 555 0123") == "not a valid phone number: no such number for +1"
    assert _refusal("phone", "+49 30 1") == "not a valid phone number: no such number for DE"
    assert _refusal("phone", "call me") == "not a valid phone number: not a phone number"
    assert _refusal("phone", "+49 30 1234567", pattern=r"\+1.*") == (
        r"does not match the expected pattern \+1.*"
    )


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("iban", "de89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("iban", "GB82-WEST-1234-5698-7654-32", "GB82WEST12345698765432"),
        ("vat", "DE 136 695 976", "DE136695976"),
        ("vat", "atu57194903", "ATU57194903"),
        ("vat", "BE697449992", "BE0697449992"),
        ("vat", "FR 61 954 506 077", "FR61954506077"),
        ("vat", "GR094259216", "EL094259216"),  # Greece's ISO code; VAT numbers say EL
        ("bic", "deut de ff", "DEUTDEFF"),
        ("bic", "DEUTDEFFXXX", "DEUTDEFF"),
        ("bic", "DEUTDEFF500", "DEUTDEFF500"),
        ("isin", "us0378331005", "US0378331005"),
        ("isbn", "0-306-40615-2", "9780306406157"),
        ("isbn", "978-0-306-40615-7", "9780306406157"),
        ("lei", "5493001KJTIIGC8Y1R12", "5493001KJTIIGC8Y1R12"),
        ("ean", "4006381333931", "4006381333931"),
        ("us_ein", "12-3456789", "123456789"),
    ],
)
def test_identifiers_in_compact_form(type_: str, raw: str, expected: str) -> None:
    assert _normal(type_, raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw", "message"),
    [
        ("iban", "DE89370400440532013001", "not a valid IBAN: checksum does not match"),
        ("iban", "QQ89370400440532013000", "not a valid IBAN: checksum does not match"),
        ("vat", "DE136695977", "not a valid EU VAT number: checksum does not match"),
        ("vat", "DE13669597", "not a valid EU VAT number: wrong length"),
        ("vat", "US136695976", "not a valid EU VAT number: unknown country code or part"),
        ("vat", "136695976", "not a valid EU VAT number: start with the country code, e.g. DE"),
        ("isin", "US0378331006", "not a valid ISIN: checksum does not match"),
        ("isbn", "0-306-40615-3", "not a valid ISBN: checksum does not match"),
        ("bic", "DEUT", "not a valid BIC: wrong length"),
        ("us_ein", "00-3456789", "not a valid US EIN: unknown country code or part"),
    ],
)
def test_identifier_refusals_say_what_is_wrong(type_: str, raw: str, message: str) -> None:
    assert _refusal(type_, raw) == message


def test_an_iban_with_a_good_checksum_but_the_wrong_length_is_a_format_error() -> None:
    short = "DE00" + "37040044053201300"  # one digit short of a German BBAN
    short = short[:2] + iban.calc_check_digits(short) + short[4:]
    assert _refusal("iban", short) == "not a valid IBAN: wrong format"


def test_a_vat_field_with_a_country_adds_the_prefix() -> None:
    assert _normal("vat", "136 695 976", country="DE") == "DE136695976"
    assert _normal("vat", "094259216", country="GR") == "EL094259216"
    assert _normal("vat", "ATU57194903", country="DE") == "ATU57194903"


def test_an_identifier_names_its_other_spellings_a_clients_data_may_have() -> None:
    def spellings(type_: str, canonical: str) -> tuple[str, ...]:
        return other_spellings(_field(type_), canonical)

    assert spellings("bic", "DEUTDEFF") == ("DEUTDEFFXXX",)
    assert spellings("bic", "DEUTDEFF500") == ()
    assert spellings("isbn", "9783161484100") == ("316148410X",)
    assert spellings("isbn", "9791234567896") == (), "no ISBN-10 outside Bookland's 978"
    assert spellings("vat", "EL094259216") == ("GR094259216",)
    assert spellings("iban", "DE89370400440532013000") == ()


def test_enums_match_the_canonical_choice_ignoring_case() -> None:
    choices = ["Paid", "Partly paid", "Open"]
    assert _normal("enum", "  PARTLY   paid ", choices=choices) == "Partly paid"
    assert _normal("enum", "open", choices=choices) == "Open"
    assert _refusal("enum", "closed", choices=choices) == "must be one of: Paid, Partly paid, Open"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("YES", True), (" no ", False), ("True", True),
     ("false", False), ("1", True), ("0", False), (1, True), (0, False)],
)  # fmt: skip
def test_booleans(raw: object, expected: bool) -> None:
    assert _normal("boolean", raw) is expected


@pytest.mark.parametrize("raw", ["maybe", 2, "y", 1.0])
def test_boolean_refusals(raw: object) -> None:
    assert _refusal("boolean", raw) == "must be yes or no (also true/false, 1/0)"


@pytest.mark.parametrize(
    ("type_", "a", "b", "rules"),
    [
        ("decimal", "1,000.50", "1000.5", {}),
        ("decimal", "1.000,50", 1000.5, {"decimal_places": 2}),
        ("integer", "1 000", 1000, {}),
        ("string", "  Jane   Doe", "Jane Doe", {}),
        ("string", "jane doe", "JANE DOE", {"case": "upper"}),
        ("date", "02/03/2024", "2024-03-02", {"date_formats": ["%d/%m/%Y"]}),
        ("iban", "DE89 3704 0044 0532 0130 00", "de89370400440532013000", {}),
        ("phone", "030 1234567", "+49 30 1234567", {"country": "DE"}),
        ("enum", "OPEN", "open", {"choices": ["open", "paid"]}),
        ("boolean", "yes", True, {}),
        ("email", "jane@EXAMPLE.com", "jane@example.com", {}),
        ("decimal", None, "  ", {}),
        ("decimal", "150", "150.0", {"max": 100}),  # out of range, but the same value
    ],
)
def test_two_keyings_of_the_same_value_are_equal(
    type_: str, a: object, b: object, rules: dict[str, Any]
) -> None:
    assert equal_after_normalization(_field(type_, **rules), a, b)


@pytest.mark.parametrize(
    ("type_", "a", "b", "rules"),
    [
        ("decimal", "1000.5", "1000.05", {}),
        ("string", "Jane Doe", "jane doe", {}),  # case is kept, so it is a difference
        ("string", "Jane Doe", "jane doe", {"case": "none"}),
        ("email", "Jane@example.com", "jane@example.com", {}),
        ("decimal", "12", None, {}),
        ("decimal", "abc", "abd", {}),
        ("date", "2024-03-02", "2024-02-03", {}),
    ],
)
def test_two_different_keyings_are_not_equal(
    type_: str, a: object, b: object, rules: dict[str, Any]
) -> None:
    assert not equal_after_normalization(_field(type_, **rules), a, b)


def test_two_identical_unparseable_keyings_are_equal() -> None:
    assert equal_after_normalization(_field("decimal"), "abc", "abc")
