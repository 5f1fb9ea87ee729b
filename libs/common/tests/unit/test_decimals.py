"""Decimals as requests bring them: written plainly, never in exponent notation, endless
trailing zeros dropped, and otherwise as written."""

from decimal import Decimal

import pytest

from bpo_common.decimals import trimmed


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("1.5" + "0" * 20_000, "1.5"),
        ("1000." + "0" * 200, "1000"),
        ("0." + "0" * 200, "0"),
        ("0E+300000", "0"),
        ("1E+300000", "1E+300000"),  # past every field's bounds: refused there
        ("1E+3", "1000"),
        ("1.0E+3", "1000"),
        ("2.5E+1", "25"),
        ("1.25E+1", "12.5"),
        ("0E+2", "0"),
        ("0E-8", "0"),
        ("0.00000000", "0"),
        ("1E-6", "0.000001"),
        ("1E-7", "1E-7"),  # more places than any field takes: refused there
        ("0.950", "0.950"),  # as written, within what a column keeps
        ("1000.000000", "1000.000000"),
        ("12.34", "12.34"),
    ],
)
def test_a_value_is_written_plainly_and_otherwise_as_it_was_written(
    written: str, kept: str
) -> None:
    value = trimmed(Decimal(written))
    assert str(value) == kept
    assert value == Decimal(written)
