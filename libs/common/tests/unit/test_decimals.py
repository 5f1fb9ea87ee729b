"""Decimals as requests bring them: written plainly, never in exponent notation, endless
trailing zeros dropped, and otherwise as written."""

from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from bpo_common.decimals import NewAtMost, trimmed
from bpo_common.events import STORED


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


PRICE = TypeAdapter(Annotated[Decimal, Field(ge=0), NewAtMost(10**9)])


def test_a_bound_for_new_values_refuses_one_above_it_as_le_does_and_keeps_a_stored_one() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1000000000"):
        PRICE.validate_python("1500000000")
    assert PRICE.validate_python("1500000000", context={STORED: True}) == Decimal(1500000000)
    assert PRICE.validate_python("1000000000") == Decimal(1000000000)
    number, text = PRICE.json_schema()["anyOf"]
    assert number == {"type": "number", "minimum": 0.0, "maximum": 1000000000.0}
    assert text == {"type": "string"}
