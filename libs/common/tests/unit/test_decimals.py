"""Decimals as requests bring them: endless trailing zeros dropped, nothing else changed."""

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
        ("1E+3", "1E+3"),  # as written, within what a column keeps
        ("0.950", "0.950"),  # as written, within what a column keeps
        ("12.34", "12.34"),
    ],
)
def test_only_a_value_written_with_an_exponent_past_a_hundred_is_written_again(
    written: str, kept: str
) -> None:
    assert str(trimmed(Decimal(written))) == kept
