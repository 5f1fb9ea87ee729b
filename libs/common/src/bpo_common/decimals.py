"""Decimals as requests bring them, kept and answered written plainly: "1E+3" is 1000, a zero
written "0E-8" or "0E+300000" is 0 (answered as typed, either came back in exponent notation;
and one written with an exponent no column keeps, "1.5" and 20,000 zeros, answered 500:
asyncpg sends at most 16,383 places). A value's places are kept as written otherwise ("0.950"
stays). Its digits are checked against the field's own bounds as before (pydantic counts them
without trailing zeros)."""

from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticKnownError, core_schema

from bpo_common.events import STORED

# Past this exponent either way, as written ("1.5" and 200 zeros), a value is written again
# without its trailing zeros.
MOST_EXPONENT_WRITTEN = 100
# Python writes a value in exponent notation when its exponent is above 0 or its first digit
# further than this many places after the point.
_PLAIN_PLACES = 6
# Enough digits for any value a field's own bounds take (the widest: 18 before the point and
# 4 after, or 16 and 6), so that writing one again never rounds it.
_WIDE = Context(prec=1000)


def trimmed(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        return value  # not a number: its field refuses it
    if -MOST_EXPONENT_WRITTEN <= exponent <= 0 and value.adjusted() >= -_PLAIN_PLACES:
        return value  # already plain, as written
    if value.is_zero():
        return Decimal(0)
    if value.adjusted() >= _WIDE.prec:
        return value  # beyond any field's bounds, which refuse it
    normalized = value.normalize(_WIDE)
    places = normalized.as_tuple().exponent
    whole = isinstance(places, int) and places > 0
    # A value under 10^-6 stays in exponent notation: no field's places take one.
    return normalized.quantize(Decimal(1), context=_WIDE) if whole else normalized


Trimmed = AfterValidator(trimmed)


@dataclass(frozen=True)
class NewAtMost:
    """At most `limit` in what a request brings: a bound added after values above it were
    accepted and stored. Read back (the STORED context), such a value stays as it was accepted:
    a price stored before the bound still prices and still shows. The JSON schema says the
    maximum as `Field(le=...)` does."""

    limit: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", [json_schema]):
            if branch.get("type") == "number":
                branch["maximum"] = float(self.limit)
        return json_schema

    def _check(self, value: Decimal, info: ValidationInfo) -> Decimal:
        if value > self.limit and not (info.context and info.context.get(STORED)):
            raise PydanticKnownError("less_than_equal", {"le": self.limit})
        return value
