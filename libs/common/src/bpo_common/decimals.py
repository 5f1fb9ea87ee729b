"""Decimals as requests bring them: one written with an exponent no column keeps (asyncpg sends
at most 16,383 places; "1.5" and 20,000 zeros, or "0E+300000", answered 500) is kept as its
value, written plainly. Its digits are checked against the field's own bounds as before
(pydantic counts them without trailing zeros)."""

from decimal import Context, Decimal

from pydantic import AfterValidator

# Past this exponent either way, as written ("1.5" and 200 zeros, "0E+300000"), a value is
# written again as its plain self.
MOST_EXPONENT_WRITTEN = 100
# Enough digits for any value a field's own bounds take (the widest: 16 before the point and
# 6 after), so that writing one again never rounds it.
_WIDE = Context(prec=1000)


def trimmed(value: Decimal) -> Decimal:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(exponent) <= MOST_EXPONENT_WRITTEN:
        return value
    if value.is_zero():
        return Decimal(0)
    if value.adjusted() >= _WIDE.prec:
        return value  # beyond any field's bounds, which refuse it
    normalized = value.normalize(_WIDE)
    places = normalized.as_tuple().exponent
    whole = isinstance(places, int) and places > 0
    return normalized.quantize(Decimal(1), context=_WIDE) if whole else normalized


Trimmed = AfterValidator(trimmed)
