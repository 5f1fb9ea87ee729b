"""Decimals as requests bring them: one written with more decimal places than any column
keeps (asyncpg sends at most 16,383; "1.5" and 20,000 zeros answered 500) is kept as its value,
its trailing zeros dropped. Its digits are checked against the field's own places as before
(pydantic counts them without the trailing zeros)."""

from decimal import Decimal

from pydantic import AfterValidator

# Past this many decimal places as written, the trailing zeros go.
MOST_PLACES_WRITTEN = 100


def trimmed(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -MOST_PLACES_WRITTEN:
        return value
    normalized = value.normalize()
    places = normalized.as_tuple().exponent
    return normalized.quantize(Decimal(1)) if isinstance(places, int) and places > 0 else normalized


Trimmed = AfterValidator(trimmed)
