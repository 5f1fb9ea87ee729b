"""Money: currencies, rounding, and the checks on an amount a person typed in.

The one rounding rule: an amount shown on an invoice (a line, the tax, a credit note, a
payment) is rounded half-up (ties away from zero) to the currency's minor unit, once, where
it is computed. Usage lines keep their exact price; an invoice line rounds the exact sum of
its usage, the tax rounds subtotal x rate, and totals are sums of rounded amounts.
"""

from decimal import ROUND_HALF_UP, Decimal

from bpo_common.errors import FieldError
from bpo_common.money import MINOR_UNITS, minor_units, shown

HUNDRED = Decimal(100)
# Prices typed in (per item, per field, piece rates) have at most this many decimals; what
# the ledger computes from them (an item's price, an earning) keeps LEDGER_DECIMALS.
PRICE_DECIMALS = 6
LEDGER_DECIMALS = 8
# What the ledger's exact columns (an item's price, an earning) hold: under 10^16.
LEDGER_DIGITS = 16
MOST_LEDGER = Decimal(10) ** LEDGER_DIGITS
# What an amount on an invoice (a line, its totals, a credit note, a payment, a minimum fee)
# may come to, as its columns hold it: under 10^18 in any currency, to 4 decimals (the most a
# minor unit has). The tax and credits taken of such an amount stay exact in Python's 28
# digits of decimal arithmetic.
MONEY_DIGITS = 18
MONEY_PLACES = 4
MOST_MONEY = Decimal(10) ** MONEY_DIGITS
# ISO 4217's currencies: units of account without a minor unit (XDR, XAU, ...) are no money
# to invoice in.
KNOWN_CURRENCIES = frozenset(code for code, units in MINOR_UNITS.items() if units is not None)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up (ties away from zero) to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def held(amount: Decimal) -> bool:
    """Whether an invoice holds the amount (compared exactly, however large it is)."""
    return amount.copy_abs() < MOST_MONEY


def ledger(amount: Decimal) -> Decimal:
    """An amount as the ledger keeps it: to LEDGER_DECIMALS, far below any minor unit."""
    return amount.quantize(Decimal(1).scaleb(-LEDGER_DECIMALS), rounding=ROUND_HALF_UP)


def exact_price(amount: Decimal, places: int = 2) -> Decimal:
    """A price or ledger amount as shown: to the ledger's decimals, without trailing zeros
    beyond `places` (a currency's minor unit where the price is in one: 1000 yen, not
    1000.00)."""
    return shown(ledger(amount), places)


def plain(amount: Decimal) -> Decimal:
    """Without trailing zeros, and never in exponent notation: 0.190000 -> 0.19, 10.00 -> 10."""
    return Decimal(format(amount.normalize(), "f"))


def percent(rate: Decimal) -> str:
    """A rate as a percentage, every digit it has: 0.21 -> 21%, 0.08875 -> 8.875%."""
    return f"{plain(rate * HUNDRED)}%"


def decimals_of(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def currency_errors(currency: str) -> list[FieldError]:
    if currency not in KNOWN_CURRENCIES:
        return [FieldError("currency", f"{currency!r} is not an ISO 4217 currency code")]
    return []


def money_errors(field: str, amount: Decimal, currency: str, *, positive: bool) -> list[FieldError]:
    """Problems of an amount a person typed in: sign and decimals beyond the minor unit."""
    if not amount.is_finite():
        return [FieldError(field, "must be a number")]
    if positive and amount <= 0:
        return [FieldError(field, "must be greater than zero")]
    if amount < 0:
        return [FieldError(field, "must not be negative")]
    if decimals_of(amount.normalize()) > minor_units(currency):
        return [
            FieldError(field, f"{currency} has {minor_units(currency)} decimals; {amount} has more")
        ]
    return []
