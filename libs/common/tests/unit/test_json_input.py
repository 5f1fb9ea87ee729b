"""JSON that comes in is read strictly: what would fail later as a 500 is refused up front."""

from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from bpo_common import json_input
from bpo_common.clock import Day, Instant
from bpo_common.errors import said


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN is not a JSON number; send a number or null"),
        ('{"a": [Infinity]}', "Infinity is not a JSON number; send a number or null"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number; send a number or null"),
        ('{"a": 1e400}', "1e400 is beyond the range of a number (about 1.8e308)"),
        ('{"a": -1.5e999}', "-1.5e999 is beyond the range of a number (about 1.8e308)"),
        ('{"a": 1, "b": {"c": 2, "c": 3}}', 'the key "c" appears twice in one object'),
        ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than 64 levels deep"),
        ('{"a": 1', "not valid JSON: Expecting ',' delimiter (line 1, column 8)"),
        ('{"a": ' + "9" * 5000 + "}", "a whole number of more than 1000 digits"),
        ('{"a": 1e-400}', "1e-400 is nearer 0 than a number can be (about 5e-324): send 0"),
        (
            '{"a": 1E-4000000000000000000}',
            "1E-4000000000000000000 is beyond the range of a number (about 1.8e308)",
        ),
        (
            '{"total": 1234567890123.4567}',
            "1234567890123.4567 has more digits than a JSON number keeps (15 to 17): send it as "
            "text, in quotes",
        ),
    ],
)
def test_what_would_fail_later_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(json_input.BadJson) as refused:
        json_input.loads(text)
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"a": [1, {"b": NaN}]}', "a[1].b"),
        ('{"items": [{"x": 1}, {"source": {"t": 1, "t": 2}}]}', "items[1].source.t"),
        ('{"a": 1e400, "b": NaN}', "a"),  # the first, in the order written
        ('{"a\\u0000": {"b": 1, "b": 2}}', "a\ufffd.b"),
        ('{"k": ' * 70 + "1" + "}" * 70, "k" + ".k" * 63),
        ('[{"a": ' + "[" * 70 + "]" * 70 + "}]", "[0].a" + "[0]" * 62),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", ""),  # deeper than the parser goes
        ('{"a": 1', ""),
        # Broken after the fault as well (read twice, never a 500): named as the whole.
        ('{"a": NaN', ""),
        ('{"a": NaN} x', ""),
        ('{"x": {"a": 1, "a": 2}, "y": ', ""),
        ('{"a": NaN, "b": ' + "[" * 5000 + "]" * 5000 + "}", ""),
    ],
)
def test_a_refusal_names_where_in_the_value_it_is(text: str, path: str) -> None:
    with pytest.raises(json_input.BadJson) as refused:
        json_input.loads(text)
    assert refused.value.path == path


def test_what_the_database_takes_is_read_as_json_reads_it() -> None:
    text = '{"a": 1.5e300, "b": [1, 2], "c": null, "d": "\\ud83d\\ude00"}'
    assert json_input.loads(text) == {"a": 1.5e300, "b": [1, 2], "c": None, "d": "😀"}
    # Numbers a double keeps, however written: trailing zeros, exponents, a negative zero.
    kept = "[0.1, 1.10, 2.5e-3, -0.0, 0e5, 12345678901234.56, 0.10000000000000001]"
    assert json_input.loads(kept) == [0.1, 1.1, 0.0025, -0.0, 0.0, 12345678901234.56, 0.1]
    assert json_input.loads("[" * 64 + "]" * 64) is not None


def test_numbers_kept_as_text_keep_their_digits_and_refuse_nan() -> None:
    assert json_input.loads('{"a": 1000.50, "b": 7, "c": 1e400}', numbers_as_text=True) == {
        "a": "1000.50",
        "b": "7",
        "c": "1e400",
    }
    with pytest.raises(json_input.BadJson):
        json_input.loads('{"a": NaN}', numbers_as_text=True)


def test_numbers_kept_as_text_in_exponent_form_are_written_out() -> None:
    read = json_input.loads(
        '{"q": 1E2, "p": 2.5e1, "r": 1e-05, "s": -1.5E+3}', numbers_as_text=True
    )
    assert read == {"q": "100", "p": "25", "r": "0.00001", "s": "-1500"}


INSTANT = TypeAdapter(Instant)
DAY = TypeAdapter(Day)


def test_an_instant_is_given_back_in_utc() -> None:
    assert INSTANT.validate_python("2026-12-04T10:00:00+02:00") == datetime(
        2026, 12, 4, 8, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9001-01-01T00:00:00Z"]
)
def test_an_instant_at_the_ends_of_the_calendar_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        INSTANT.validate_python(value)
    assert "must be between 1900-01-01 and 9000-12-31 (UTC)" in str(refused.value)


def test_a_day_at_the_ends_of_the_calendar_is_refused() -> None:
    assert DAY.validate_python("9000-12-31") == date(9000, 12, 31)
    for value in ("9999-12-31", "0001-01-01"):
        with pytest.raises(ValidationError):
            DAY.validate_python(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-31T00:00:00+05:00",
        "2026-01-31T00:00:00Z",
        "1769817600",
        1769817600,
        "20260131",
        "2026-01-31 ",
        datetime(2026, 1, 31, tzinfo=UTC),
    ],
)
def test_a_day_given_as_anything_but_yyyy_mm_dd_is_refused_saying_so(value: object) -> None:
    """A midnight with an offset, or a Unix time, was taken as the UTC day on its face."""
    with pytest.raises(ValidationError) as refused:
        DAY.validate_python(value)
    (error,) = refused.value.errors()
    assert said(error) == "must be a day as YYYY-MM-DD (UTC)"


def test_a_day_is_a_date_or_yyyy_mm_dd_in_json_as_in_a_query() -> None:
    assert DAY.validate_python("2026-01-31") == date(2026, 1, 31)
    assert DAY.validate_python(date(2026, 1, 31)) == date(2026, 1, 31)
    assert DAY.validate_json('"2026-01-31"') == date(2026, 1, 31)
    for text in ('"2026-01-31T00:00:00+05:00"', "1769817600"):
        with pytest.raises(ValidationError) as refused:
            DAY.validate_json(text)
        (error,) = refused.value.errors()
        assert said(error) == "must be a day as YYYY-MM-DD (UTC)"
