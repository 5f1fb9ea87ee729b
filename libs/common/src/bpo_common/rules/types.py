"""One value of one field: parse what was typed, check the field's limits, give it canonical form.

`parse_value` gives the typed value (Decimal, date, int, bool or str), `to_json` its
canonical JSON form, `normalize_value` both in one. A value that cannot be used raises
InvalidValue with a message the person who typed it can act on.
"""

import re
import unicodedata
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime
from decimal import Context, Decimal, InvalidOperation

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import bic, ean, iban, isbn, isin, lei
from stdnum.eu import vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.us import ein

from bpo_common.rules.spec import Case, FieldSpec, FieldType, compiled_pattern

Typed = str | int | Decimal | date | bool
Json = str | int | bool

MAX_TEXT_LENGTH = 10_000
MAX_NUMBER_LENGTH = 100
MAX_DIGITS = 60

# Wide enough that quantizing any number we accept never rounds or overflows.
_WIDE = Context(prec=200)
_GROUP_SPACES = " \u00a0\u2009\u202f'\u2019"
_MINUS_SIGNS = "-\u2212"
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class InvalidValue(ValueError):
    """A value that does not fit its field; `message` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_empty(raw: object) -> bool:
    """None, or text with nothing but whitespace."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_value(field: FieldSpec, raw: object) -> Typed | None:
    """The typed value, limits checked; None when empty and optional, 'required' otherwise."""
    if is_empty(raw):
        if field.required:
            raise InvalidValue("required")
        return None
    value = _PARSERS[field.type](field, raw)
    _check_limits(field, value)
    return value


def to_json(field: FieldSpec, value: Typed) -> Json:
    """The canonical form: decimals as plain strings, dates as YYYY-MM-DD, the rest as is."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        if field.decimal_places is None and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    if isinstance(value, date):
        return value.isoformat()
    return value


def normalize_value(field: FieldSpec, raw: object) -> Json | None:
    """Canonical JSON form of `raw`, or InvalidValue; None when empty and optional."""
    value = parse_value(field, raw)
    return None if value is None else to_json(field, value)


def equal_after_normalization(field: FieldSpec, a: object, b: object) -> bool:
    """Whether two keyings of one field mean the same value.

    Both are brought to canonical form without checking required, limits or pattern (a
    value out of range is still the same value); two empties are equal. A value that does
    not parse is equal only to an identical one.
    """
    if field.type is FieldType.TABLE:
        return table_key(field, a) == table_key(field, b)
    try:
        return canonical_form(field, a) == canonical_form(field, b)
    except InvalidValue:
        return type(a) is type(b) and a == b


def canonical_form(field: FieldSpec, raw: object) -> Json | None:
    """`raw` in canonical form, read by the field's type alone (not its required, limits
    nor pattern: a value out of range is still that value); InvalidValue when it does not
    read as the type."""
    return None if is_empty(raw) else to_json(field, _PARSERS[field.type](field, raw))


def cell_key(field: FieldSpec, raw: object) -> Hashable:
    """What a value compares as: its canonical form, or, when it has none, the raw value
    itself (so it equals only an identical value)."""
    try:
        return canonical_form(field, raw)
    except InvalidValue:
        return ("not read", type(raw).__name__, repr(raw))


def row_key(table: FieldSpec, row: object) -> tuple[Hashable, ...]:
    """What a table's row compares as: its cells' keys, column by column."""
    if not isinstance(row, Mapping):
        return ("not a row", repr(row))
    return tuple(cell_key(column, row.get(column.name)) for column in table.columns or ())


def table_key(table: FieldSpec, raw: object) -> Hashable:
    """What a table compares as: its rows in order, or by their key column when it has one
    (then the order of the rows does not matter)."""
    if is_empty(raw) or raw == []:
        return ()
    if not isinstance(raw, list):
        return ("not a table", repr(raw))
    rows = [row_key(table, row) for row in raw]
    if table.key is None:
        return tuple(rows)
    return tuple(sorted(rows, key=repr))


def _text(raw: object) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)  # a JSON number where text was expected, e.g. a postcode
    if not isinstance(raw, str):
        raise InvalidValue("must be text")
    if len(raw) > MAX_TEXT_LENGTH:
        raise InvalidValue(f"longer than {MAX_TEXT_LENGTH} characters")
    # NFC, so an accent typed as one character or as two compares the same.
    return unicodedata.normalize("NFC", raw).strip()


def _parse_string(field: FieldSpec, raw: object) -> str:
    text = " ".join(_text(raw).split())
    # Casing can decompose a character ("ΐ".upper() is three code points); compose it again.
    if field.case is Case.UPPER:
        return unicodedata.normalize("NFC", text.upper())
    if field.case is Case.LOWER:
        return unicodedata.normalize("NFC", text.lower())
    return text


def _parse_integer(field: FieldSpec, raw: object) -> int:
    value = _number(raw, field.decimal_separator or ".")
    if value != value.to_integral_value():
        raise InvalidValue("must be a whole number")
    return int(value)


def _parse_decimal(field: FieldSpec, raw: object) -> Decimal:
    value = _number(raw, field.decimal_separator or ".")
    if value == 0:
        value = abs(value)  # no "-0"
    places = field.decimal_places
    if places is None:
        return value
    rounded = value.quantize(Decimal(1).scaleb(-places), context=_WIDE)
    if rounded != value:
        raise InvalidValue(f"must have at most {places} decimal places")
    return rounded


def _number(raw: object, separator: str) -> Decimal:
    if isinstance(raw, bool):
        raise InvalidValue("must be a number")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))  # shortest round-trip text: 0.1 stays 0.1
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        value = _parse_number_text(raw, separator)
    else:
        raise InvalidValue("must be a number")
    if not value.is_finite():
        raise InvalidValue("must be a finite number")
    if len(value.as_tuple().digits) > MAX_DIGITS or value.adjusted() >= MAX_DIGITS:
        raise InvalidValue("has too many digits")
    return value


def _parse_number_text(text: str, separator: str) -> Decimal:
    """'1,000.50', '1.000,50', '1 000,5', '-1000.5', '.5' -> Decimal; see _decimal_point."""
    text = text.strip()
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidValue("not a number: too long")
    sign = ""
    if text[:1] in ("+", *_MINUS_SIGNS):
        sign, text = ("" if text[0] == "+" else "-"), text[1:]
    point = _decimal_point(text, separator)
    whole, fraction = text.split(point, 1) if point else (text, "")
    grouping = _GROUP_SPACES + "".join({".", ","} - {point})
    if any(char in grouping for char in whole):
        if not _is_grouped(whole, grouping):
            raise InvalidValue("not a number: digits are grouped wrongly (use groups of three)")
        whole = re.sub(f"[{re.escape(grouping)}]", "", whole)
    if not re.fullmatch(r"[0-9]*", whole) or not re.fullmatch(r"[0-9]*", fraction):
        raise InvalidValue("not a number")
    if not whole and not fraction:
        raise InvalidValue("not a number")
    try:
        return Decimal(f"{sign}{whole or '0'}.{fraction or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the checks above rule this out
        raise InvalidValue("not a number") from exc


def _decimal_point(text: str, separator: str) -> str | None:
    """Which of '.' and ',' is the decimal point in `text`, if either.

    With both, the last one. A separator that occurs more than once groups thousands.
    Occurring once, the field's `separator` is the point; the other one is the point too
    unless it sits between groups of three digits ('1,500' groups, '1,5' does not), or after
    a lone 0, which no one writes before a group of thousands ('0,500' is 0.5).
    """
    other = "," if separator == "." else "."
    if separator in text and other in text:
        return separator if text.rfind(separator) > text.rfind(other) else other
    if text.count(separator) == 1:
        return separator
    if text.count(other) == 1 and (
        text.startswith(f"0{other}") or not _is_grouped(text, _GROUP_SPACES + other)
    ):
        return other
    return None


def _is_grouped(text: str, grouping: str) -> bool:
    chars = re.escape(grouping)
    return re.fullmatch(rf"[0-9]{{1,3}}(?:[{chars}][0-9]{{3}})+", text) is not None


def _parse_date(field: FieldSpec, raw: object) -> date:
    if isinstance(raw, datetime):
        raise InvalidValue("must be a date without a time")
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        raise InvalidValue("must be a date as text")
    text = _text(raw)
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in field.date_formats or ():
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    accepted = ", ".join(["YYYY-MM-DD", *map(_readable_format, field.date_formats or ())])
    raise InvalidValue(f"not a valid date: use {accepted}")


_FORMAT_CODES = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%b": "Mon", "%B": "Month"}


def _readable_format(fmt: str) -> str:
    return re.sub(r"%[a-zA-Z%]", lambda m: _FORMAT_CODES.get(m.group(), m.group()), fmt)


def _parse_email(field: FieldSpec, raw: object) -> str:
    try:
        # Syntax only: a DNS lookup per keystroke would be slow and flaky.
        return validate_email(_text(raw), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"not a valid email address: {exc}") from exc


def _parse_phone(field: FieldSpec, raw: object) -> str:
    text = _text(raw)
    try:
        number = phonenumbers.parse(text, field.country)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(f"not a valid phone number: {_phone_reason(exc, field)}") from exc
    if not phonenumbers.is_valid_number(number):
        regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
        where = regions[0] if len(regions) == 1 else f"+{number.country_code}"
        raise InvalidValue(f"not a valid phone number: no such number for {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_reason(exc: phonenumbers.NumberParseException, field: FieldSpec) -> str:
    kind = phonenumbers.NumberParseException
    if exc.error_type == kind.INVALID_COUNTRY_CODE:
        if field.country is None:
            return "start with + and the country code"
        return "unknown country code"
    if exc.error_type in (kind.TOO_SHORT_NSN, kind.TOO_SHORT_AFTER_IDD):
        return "too short"
    if exc.error_type == kind.TOO_LONG:
        return "too long"
    return "not a phone number"


def _parse_enum(field: FieldSpec, raw: object) -> str:
    key = " ".join(_text(raw).split()).casefold()
    choices = field.choices or ()
    for choice in choices:
        if choice.casefold() == key:
            return choice
    shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
    raise InvalidValue(f"must be one of: {shown}")


def _parse_boolean(field: FieldSpec, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return raw == 1
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise InvalidValue("must be yes or no (also true/false, 1/0)")


_IDENTIFIERS: Mapping[FieldType, tuple[str, Callable[[str], str]]] = {
    FieldType.IBAN: ("IBAN", iban.validate),
    FieldType.VAT: ("EU VAT number", vat.validate),
    FieldType.BIC: ("BIC", bic.validate),
    FieldType.ISIN: ("ISIN", isin.validate),
    # ISBN-10 becomes ISBN-13, so both ways of writing one book compare equal.
    FieldType.ISBN: ("ISBN", lambda number: isbn.validate(number, convert=True)),
    FieldType.LEI: ("LEI", lei.validate),
    FieldType.EAN: ("EAN/GTIN", ean.validate),
    FieldType.US_EIN: ("US EIN", ein.validate),
}


def _parse_identifier(field: FieldSpec, raw: object) -> str:
    label, validate = _IDENTIFIERS[field.type]
    # stdnum drops separators for some identifiers only ("US 0378..." is no ISIN to it).
    text = re.sub(r"[\s.-]", "", _text(raw))
    if field.type is FieldType.VAT and not text[:2].isalpha():
        if field.country is None:
            raise InvalidValue("not a valid EU VAT number: start with the country code, e.g. DE")
        text = ("EL" if field.country == "GR" else field.country) + text  # Greece uses EL
    try:
        number = validate(text)
    except ValidationError as exc:
        raise InvalidValue(f"not a valid {label}: {_identifier_reason(exc)}") from exc
    if field.type is FieldType.BIC and number.endswith("XXX"):
        number = number[:8]  # XXX is the head office, the same as the 8-letter BIC
    if field.type is FieldType.VAT and number.startswith("GR"):
        number = "EL" + number[2:]  # Greece's ISO code, where VAT numbers say EL
    return number


def other_spellings(field: FieldSpec, canonical: object) -> tuple[str, ...]:
    """How else a client's own data may write an identifier whose canonical form this is (its
    reference data, looked up by it): a BIC with its head office's XXX, a Bookland ISBN as
    ISBN-10, a Greek VAT number with Greece's ISO code."""
    if not isinstance(canonical, str):
        return ()
    if field.type is FieldType.BIC and len(canonical) == 8:
        return (canonical + "XXX",)
    if field.type is FieldType.ISBN and canonical.startswith("978"):
        return (isbn.to_isbn10(canonical),)
    if field.type is FieldType.VAT and canonical.startswith("EL"):
        return ("GR" + canonical[2:],)
    return ()


def _identifier_reason(exc: ValidationError) -> str:
    if isinstance(exc, InvalidChecksum):
        return "checksum does not match"
    if isinstance(exc, InvalidLength):
        return "wrong length"
    if isinstance(exc, InvalidFormat):
        return "wrong format"
    if isinstance(exc, InvalidComponent):
        return "unknown country code or part"
    return "not recognised"


_PARSERS: Mapping[FieldType, Callable[[FieldSpec, object], Typed]] = {
    FieldType.STRING: _parse_string,
    FieldType.INTEGER: _parse_integer,
    FieldType.DECIMAL: _parse_decimal,
    FieldType.DATE: _parse_date,
    FieldType.EMAIL: _parse_email,
    FieldType.PHONE: _parse_phone,
    FieldType.ENUM: _parse_enum,
    FieldType.BOOLEAN: _parse_boolean,
    **{field_type: _parse_identifier for field_type in _IDENTIFIERS},
}


# The earliest date a date field takes unless its own `min` is earlier: a year keyed with two
# digits (`31/01/26` as day, month and `26`, which a browser's date input takes as 0026) is
# caught, and old records (a register of 1850) are not.
EARLIEST_DATE = date(1000, 1, 1)


def _check_limits(field: FieldSpec, value: Typed) -> None:
    if isinstance(value, date):
        if isinstance(field.min, date) and value < field.min:
            raise InvalidValue(f"must be on or after {field.min.isoformat()}")
        if not isinstance(field.min, date) and value < EARLIEST_DATE:
            raise InvalidValue(
                f"must be on or after {EARLIEST_DATE.isoformat()}: key the year with its four "
                "digits"
            )
        if isinstance(field.max, date) and value > field.max:
            raise InvalidValue(f"must be on or before {field.max.isoformat()}")
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        if isinstance(field.min, int | Decimal) and value < field.min:
            raise InvalidValue(f"must be at least {_show(field.min)}")
        if isinstance(field.max, int | Decimal) and value > field.max:
            raise InvalidValue(f"must be at most {_show(field.max)}")
    elif isinstance(value, str):
        if field.min_length is not None and len(value) < field.min_length:
            raise InvalidValue(f"must be at least {field.min_length} characters long")
        if field.max_length is not None and len(value) > field.max_length:
            raise InvalidValue(f"must be at most {field.max_length} characters long")
        if field.pattern is not None and compiled_pattern(field.pattern).fullmatch(value) is None:
            raise InvalidValue(f"does not match the expected pattern {field.pattern}")


def _show(bound: int | Decimal) -> str:
    return format(bound, "f") if isinstance(bound, Decimal) else str(bound)
