"""Properties of normalization that must hold for any input, not just the ones we thought of."""

import string
from datetime import date
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum import ean, iban, isin
from stdnum.at import uid
from stdnum.iso7064 import mod_11_10, mod_97_10

from bpo_common.rules import FieldSpec, FieldType, InvalidValue, normalize_value

Drawn = tuple[FieldSpec, object]


def _field(type_: str, **rules: Any) -> FieldSpec:
    return FieldSpec.model_validate({"name": "x", "type": type_, **rules})


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=n, max_size=n)


def _upper(n: int) -> st.SearchStrategy[str]:
    return st.text(string.ascii_uppercase, min_size=n, max_size=n)


def _messy_case(text: str, draw: st.DrawFn) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


# --- numbers -----------------------------------------------------------------------------

SEPARATORS = (".", ",")
GROUPINGS = {".": [",", " ", "\u00a0", "'"], ",": [".", " ", "\u202f", "'"]}


def _group(whole: str, grouping: str) -> str:
    head = len(whole) % 3 or 3
    return grouping.join([whole[:head], *(whole[i : i + 3] for i in range(head, len(whole), 3))])


@st.composite
def formatted_decimals(draw: st.DrawFn, max_places: int = 4) -> tuple[str, str, str]:
    """(plain text, the same number grouped with `separator` as decimal point, separator)."""
    places = draw(st.integers(0, max_places))
    value = draw(st.decimals(min_value=-(10**12), max_value=10**12, places=places))
    plain = format(value, "f")
    separator = draw(st.sampled_from(SEPARATORS))
    sign, unsigned = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    whole, _, fraction = unsigned.partition(".")
    grouped = _group(whole, draw(st.sampled_from(GROUPINGS[separator])))
    text = sign + grouped + (separator + fraction if fraction else "")
    return plain, text, separator


@given(formatted_decimals(), st.sampled_from([None, 4, 6]))
def test_grouped_decimals_with_either_separator_equal_the_plain_form(
    drawn: tuple[str, str, str], places: int | None
) -> None:
    plain, text, separator = drawn
    assert normalize_value(
        _field("decimal", decimal_separator=separator, decimal_places=places), text
    ) == normalize_value(_field("decimal", decimal_places=places), plain)


@given(formatted_decimals(max_places=0))
def test_grouped_integers_equal_the_plain_form(drawn: tuple[str, str, str]) -> None:
    plain, text, separator = drawn
    assert normalize_value(_field("integer", decimal_separator=separator), text) == int(plain)


def _ambiguous_with_decimal_comma(canonical: object) -> bool:
    """'1.500' under decimal_separator ',' reads as 1500; documented in bpo_common.rules."""
    text = str(canonical).lstrip("-")
    whole, dot, fraction = text.partition(".")
    return bool(dot) and len(whole) <= 3 and len(fraction) == 3


# --- identifiers ----------------------------------------------------------------------------

IBAN_BBANS = {
    "DE": _digits(18),
    "AT": _digits(16),
    "NL": st.tuples(_upper(4), _digits(10)).map("".join),
    "GB": st.tuples(_upper(4), _digits(14)).map("".join),
    "CH": _digits(17),
}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(IBAN_BBANS)))
    bban = draw(IBAN_BBANS[country])
    return country + iban.calc_check_digits(country + "00" + bban) + bban


@st.composite
def vat_numbers(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(["DE", "AT", "BE"]))
    if country == "DE":
        body = draw(st.sampled_from("123456789")) + draw(_digits(7))
        return "DE" + body + mod_11_10.calc_check_digit(body)
    if country == "AT":
        body = "U" + draw(_digits(7))
        return "AT" + body + uid.calc_check_digit(body)
    body = draw(st.sampled_from("01")) + draw(_digits(7))
    return "BE" + body + f"{97 - int(body) % 97:02d}"


@st.composite
def spaced(draw: st.DrawFn, number: str) -> str:
    """`number` as someone might type it: split by spaces or dashes, in any case."""
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=6)))
    parts = [number[i:j] for i, j in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    return _messy_case(draw(st.sampled_from([" ", "-", "  "])).join(parts), draw)


@st.composite
def one_digit_changed(draw: st.DrawFn, number: str) -> str:
    positions = [i for i, c in enumerate(number) if c.isdigit()]
    i = draw(st.sampled_from(positions))
    digit = draw(st.sampled_from([d for d in string.digits if d != number[i]]))
    return number[:i] + digit + number[i + 1 :]


@pytest.mark.parametrize(("type_", "numbers"), [("iban", ibans()), ("vat", vat_numbers())])
@given(data=st.data())
def test_identifiers_with_good_check_digits_are_accepted_and_any_one_digit_change_refused(
    type_: str, numbers: st.SearchStrategy[str], data: st.DataObject
) -> None:
    number = data.draw(numbers)
    field = _field(type_)
    typed = data.draw(spaced(number))
    assert normalize_value(field, typed) == number
    changed = data.draw(one_digit_changed(number))
    with pytest.raises(InvalidValue, match="not a valid"):
        normalize_value(field, changed)


# --- dates --------------------------------------------------------------------------------

DATE_FORMATS = ["%d/%m/%Y", "%d.%m.%Y", "%m-%d-%Y", "%d %b %Y", "%B %d, %Y", "%d.%m.%y"]


@given(st.dates(min_value=date(1969, 1, 1), max_value=date(2068, 12, 31)), st.data())
def test_a_date_in_any_accepted_format_normalizes_to_the_same_iso_date(
    day: date, data: st.DataObject
) -> None:
    field = _field("date", date_formats=DATE_FORMATS)
    fmt = data.draw(st.sampled_from(DATE_FORMATS))
    text = day.strftime(fmt)
    assert normalize_value(field, text) == normalize_value(field, day.isoformat()) == str(day)


# --- phones -------------------------------------------------------------------------------


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and phonenumbers.is_valid_number(number):
                numbers.append(number)
    return numbers


EXAMPLE_NUMBERS = _example_numbers()


@st.composite
def formatted_phones(draw: st.DrawFn) -> tuple[str, str, str]:
    """(E.164, the number as someone might type it, its region)."""
    number = draw(st.sampled_from(EXAMPLE_NUMBERS))
    region = phonenumbers.region_code_for_number(number)
    assert region is not None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if draw(st.booleans()):
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        separator = draw(st.sampled_from([" ", "-", " - ", "  "]))
        return e164, national.replace(" ", separator), region
    nsn = phonenumbers.national_significant_number(number)
    cuts = sorted(draw(st.sets(st.integers(1, len(nsn) - 1), max_size=4)))
    parts = [nsn[i:j] for i, j in zip([0, *cuts], [*cuts, len(nsn)], strict=True)]
    if draw(st.booleans()):
        parts[0] = f"({parts[0]})"
    separator = draw(st.sampled_from([" ", "-", ".", ""]))
    return e164, f"+{number.country_code} " + separator.join(parts), region


@given(formatted_phones())
def test_phone_numbers_formatted_with_spaces_dashes_and_parentheses_give_one_e164(
    drawn: tuple[str, str, str],
) -> None:
    e164, text, region = drawn
    assert normalize_value(_field("phone", country=region), text) == e164


# --- idempotence --------------------------------------------------------------------------


@st.composite
def strings(draw: st.DrawFn) -> Drawn:
    case = draw(st.sampled_from([None, "upper", "lower", "none"]))
    return _field("string", case=case, required=False), draw(st.text(max_size=40))


@st.composite
def decimals(draw: st.DrawFn) -> Drawn:
    _plain, text, separator = draw(formatted_decimals())
    places = draw(st.sampled_from([None, 4]))
    return _field("decimal", decimal_separator=separator, decimal_places=places), text


@st.composite
def integers(draw: st.DrawFn) -> Drawn:
    value = draw(st.integers(-(10**15), 10**15))
    separator = draw(st.sampled_from(SEPARATORS))
    grouped = _group(str(abs(value)), draw(st.sampled_from(GROUPINGS[separator])))
    return _field("integer", decimal_separator=separator), ("-" if value < 0 else "") + grouped


@st.composite
def dates(draw: st.DrawFn) -> Drawn:
    day = draw(st.dates(min_value=date(1969, 1, 1), max_value=date(2068, 12, 31)))
    return _field("date", date_formats=DATE_FORMATS), day.strftime(
        draw(st.sampled_from(["%Y-%m-%d", *DATE_FORMATS]))
    )


@st.composite
def emails(draw: st.DrawFn) -> Drawn:
    return _field("email"), _messy_case(draw(st.emails()), draw)


@st.composite
def phones(draw: st.DrawFn) -> Drawn:
    _, text, region = draw(formatted_phones())
    return _field("phone", country=region), text


@st.composite
def enums(draw: st.DrawFn) -> Drawn:
    choices = ["Paid", "Partly paid", "Open", "straße"]
    choice = draw(st.sampled_from(choices))
    padded = draw(st.sampled_from(["", " ", "  "])) + choice.replace(" ", "   ")
    return _field("enum", choices=choices), _messy_case(padded, draw)


@st.composite
def booleans(draw: st.DrawFn) -> Drawn:
    word = draw(st.sampled_from(["true", "false", "yes", "no", "1", "0", True, False, 1, 0]))
    return _field("boolean"), _messy_case(word, draw) if isinstance(word, str) else word


@st.composite
def identifiers(draw: st.DrawFn, type_: str, numbers: st.SearchStrategy[str]) -> Drawn:
    return _field(type_), draw(spaced(draw(numbers)))


def _isin(body: str) -> str:
    return body + isin.calc_check_digit(body)


def _ean(body: str) -> str:
    return body + ean.calc_check_digit(body)


def _lei(body: str) -> str:
    return body + mod_97_10.calc_check_digits(body)


ALNUM = string.ascii_uppercase + string.digits
VALID_VALUES: dict[FieldType, st.SearchStrategy[Drawn]] = {
    FieldType.STRING: strings(),
    FieldType.INTEGER: integers(),
    FieldType.DECIMAL: decimals(),
    FieldType.DATE: dates(),
    FieldType.EMAIL: emails(),
    FieldType.PHONE: phones(),
    FieldType.ENUM: enums(),
    FieldType.BOOLEAN: booleans(),
    FieldType.IBAN: identifiers("iban", ibans()),
    FieldType.VAT: identifiers("vat", vat_numbers()),
    FieldType.ISIN: identifiers(
        "isin",
        st.tuples(st.sampled_from(["US", "DE", "XS"]), st.text(ALNUM, min_size=9, max_size=9))
        .map("".join)
        .map(_isin),
    ),
    FieldType.ISBN: identifiers("isbn", _digits(9).map(lambda body: _ean("978" + body))),
    FieldType.EAN: identifiers("ean", _digits(12).map(_ean)),
    FieldType.LEI: identifiers("lei", st.text(ALNUM, min_size=18, max_size=18).map(_lei)),
    FieldType.BIC: identifiers(
        "bic",
        st.tuples(
            _upper(4),
            st.sampled_from(["DE", "FR", "GB"]),
            st.text(ALNUM, min_size=2, max_size=2),
            st.sampled_from(["", "XXX", "500"]),
        ).map("".join),
    ),
    FieldType.US_EIN: identifiers(
        "us_ein", st.tuples(st.sampled_from(["01", "10", "20", "94"]), _digits(7)).map("".join)
    ),
}


def test_every_scalar_field_type_has_a_generator() -> None:
    # A table's cells are values of these types (test_rule_tables.py checks tables).
    assert set(VALID_VALUES) == set(FieldType) - {FieldType.TABLE}


@pytest.mark.parametrize("field_type", sorted(VALID_VALUES))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_normalizing_a_normalized_value_changes_nothing(
    field_type: FieldType, data: st.DataObject
) -> None:
    field, raw = data.draw(VALID_VALUES[field_type])
    try:
        once = normalize_value(field, raw)
    except InvalidValue:
        # Only emails may be refused here: hypothesis writes addresses email-validator rejects.
        assert field_type is FieldType.EMAIL
        assume(False)
        return
    if field.decimal_separator == "," and field.type is FieldType.DECIMAL:
        assume(not _ambiguous_with_decimal_comma(once))
    assert normalize_value(field, once) == once
