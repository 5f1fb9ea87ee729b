"""Amounts of money as every service shows them: to their currency's minor unit at least."""

from decimal import Decimal

from iso4217 import Currency

# ISO 4217's minor units (its list, not a locale library's display data: CLDR shows IQD with
# no decimals where ISO 4217 gives it 3); None for units of account without one (XDR, XAU).
MINOR_UNITS = {currency.code: currency.exponent for currency in Currency}
# A code taken before ISO 4217 withdrew it (BGN, HRK) and kept in stored prices and invoices
# still has, as it had, 2 decimals.
WITHDRAWN_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for EUR, 0 for JPY, 3 for BHD."""
    units = MINOR_UNITS.get(currency)
    return WITHDRAWN_MINOR_UNITS if units is None else units


def shown(amount: Decimal, places: int = 2) -> Decimal:
    """An amount as shown: to `places` decimals (a currency's minor unit where the amount is
    in one: 1000 yen, not 1000.00; 0.50 euros, not 0.5), more only where it has more, without
    trailing zeros beyond them (0.125, not 0.12500000)."""
    normalized = amount.normalize()
    if normalized.as_tuple().exponent > -places:  # type: ignore[operator]
        return amount.quantize(Decimal(1).scaleb(-places))
    return normalized
