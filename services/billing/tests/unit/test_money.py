"""Money: half-up rounding to each currency's minor unit, and amounts a person typed in."""

from decimal import Decimal

import pytest

from bpo_billing.domain.money import (
    currency_errors,
    exact_price,
    money_errors,
    percent,
    plain,
    round_money,
)
from bpo_common.money import minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        (Decimal("0.125"), "EUR", Decimal("0.13")),
        (Decimal("0.124999"), "EUR", Decimal("0.12")),
        (Decimal("-0.125"), "EUR", Decimal("-0.13")),
        (Decimal("2.5"), "JPY", Decimal("3")),
        (Decimal("1.0005"), "BHD", Decimal("1.001")),
        # ISO 4217's minor units, where a locale library's display data says otherwise.
        (Decimal("1000.4995"), "IQD", Decimal("1000.500")),
        (Decimal("0.125"), "RSD", Decimal("0.13")),
    ],
)
def test_half_up_to_the_minor_unit_of_the_currency(
    amount: Decimal, currency: str, rounded: Decimal
) -> None:
    assert round_money(amount, currency) == rounded
    assert str(round_money(amount, currency)) == str(rounded)


def test_money_typed_in_with_more_decimals_than_the_currency_has_is_refused() -> None:
    (error,) = money_errors("amount", Decimal("1.005"), "EUR", positive=True)
    assert error.field == "amount"
    assert "2 decimals" in error.message
    assert money_errors("amount", Decimal("100"), "JPY", positive=True) == []
    assert money_errors("amount", Decimal("0"), "EUR", positive=True)[0].message == (
        "must be greater than zero"
    )


def test_prices_show_at_least_two_decimals_and_no_trailing_zeros_beyond() -> None:
    assert str(exact_price(Decimal("0.5"))) == "0.50"
    assert str(exact_price(Decimal("0.25500000"))) == "0.255"
    assert str(exact_price(Decimal("0.123456789"))) == "0.12345679"
    # In a currency, at least its minor unit's decimals: 1000 yen, 1.500 dinars.
    assert str(exact_price(Decimal("1000"), minor_units("JPY"))) == "1000"
    assert str(exact_price(Decimal("12.5"), minor_units("JPY"))) == "12.5"
    assert str(exact_price(Decimal("1.5"), minor_units("BHD"))) == "1.500"
    assert str(plain(Decimal("0.190000"))) == "0.19"
    assert str(plain(Decimal("10.00"))) == "10"
    # A tax rate is shown with every digit it has, so that the tax can be checked from it.
    assert (percent(Decimal("0.21")), percent(Decimal("0.08875"))) == ("21%", "8.875%")


def test_only_iso_4217_currencies_are_accepted() -> None:
    assert currency_errors("EUR") == []
    (error,) = currency_errors("EUX")
    assert (error.field, error.message) == ("currency", "'EUX' is not an ISO 4217 currency code")
    assert currency_errors("XAU") != [], "gold is no currency with a minor unit to invoice in"
    # Withdrawn (the euro replaced it in 2026): refused anew, its stored amounts still round.
    assert currency_errors("BGN") != []
    assert round_money(Decimal("1.005"), "BGN") == Decimal("1.01")
