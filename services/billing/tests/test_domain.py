"""The arithmetic of billing, as properties over many generated cases."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpo_billing import domain
from bpo_billing.domain import Rate, Tier
from bpo_common.contracts import TaskOutcome

CURRENCIES = ["EUR", "USD", "JPY", "BHD", "CHF"]
EXAMPLES = settings(max_examples=150, deadline=None)

prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def money(draw: st.DrawFn, currency: str, max_value: int = 100_000) -> Decimal:
    places = domain.minor_units(currency)
    return draw(
        st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False,
                    allow_infinity=False)
    )  # fmt: skip


@EXAMPLES
@given(
    currency=st.sampled_from(CURRENCIES),
    exact_sums=st.lists(prices, min_size=0, max_size=30),
    tax_rate=rates,
)
def test_lines_add_up_to_the_subtotal_and_tax_follows_the_rounding_rule(
    currency: str, exact_sums: list[Decimal], tax_rate: Decimal
) -> None:
    lines = [domain.line_amount(amount, currency) for amount in exact_sums]
    totals = domain.invoice_totals(lines, tax_rate, currency)
    quantum = Decimal(1).scaleb(-domain.minor_units(currency))
    assert totals.subtotal == sum(lines, Decimal(0))
    assert totals.tax == (totals.subtotal * tax_rate).quantize(quantum, rounding=ROUND_HALF_UP)
    assert totals.total == totals.subtotal + totals.tax
    for line, exact in zip(lines, exact_sums, strict=True):
        # Each line is its exact sum rounded half-up: never off by more than half a minor unit.
        assert abs(line - exact) <= quantum / 2
        assert line.as_tuple().exponent == -domain.minor_units(currency)


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        (Decimal("0.125"), "EUR", Decimal("0.13")),
        (Decimal("0.124999"), "EUR", Decimal("0.12")),
        (Decimal("-0.125"), "EUR", Decimal("-0.13")),
        (Decimal("2.5"), "JPY", Decimal("3")),
        (Decimal("1.0005"), "BHD", Decimal("1.001")),
    ],
)
def test_half_up_to_the_minor_unit_of_the_currency(
    amount: Decimal, currency: str, rounded: Decimal
) -> None:
    assert domain.round_money(amount, currency) == rounded
    assert str(domain.round_money(amount, currency)) == str(rounded)


@st.composite
def settlements(draw: st.DrawFn) -> tuple[str, Decimal, list[tuple[str, Decimal]]]:
    currency = draw(st.sampled_from(CURRENCIES))
    total = draw(money(currency))
    steps = draw(
        st.lists(st.tuples(st.sampled_from(["payment", "credit"]), money(currency)), max_size=12)
    )
    return currency, total, steps


@EXAMPLES
@given(settlements())
def test_credit_notes_and_payments_reconcile_to_the_amount_due(
    case: tuple[str, Decimal, list[tuple[str, Decimal]]],
) -> None:
    """Apply each payment or credit the rules accept; what is due is always the total less
    what was accepted, never negative, and nothing is due exactly when it is all settled."""
    currency, total, steps = case
    paid = credited = Decimal(0)
    for kind, amount in steps:
        due = domain.amount_due(total, credited, paid)
        errors = domain.settlement_errors("amount", amount, due, currency, kind)
        if amount <= 0 or amount > due:
            assert errors, (amount, due)
            continue
        assert errors == []
        if kind == "payment":
            paid += amount
        else:
            credited += amount
    due = domain.amount_due(total, credited, paid)
    assert due == total - credited - paid
    assert due >= 0
    assert (due == 0) == (credited + paid == total)


@EXAMPLES
@given(
    bounds=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5),
    prices_=st.lists(prices, min_size=6, max_size=6),
    count=st.integers(min_value=0, max_value=400),
)
def test_graduated_tiers_price_each_item_in_its_band(
    bounds: list[int], prices_: list[Decimal], count: int
) -> None:
    tiers, start = [], 1
    for index, width in enumerate(bounds):
        tiers.append(Tier(start, start + width - 1, prices_[index]))
        start += width
    tiers.append(Tier(start, None, prices_[len(bounds)]))
    assert domain.tier_errors("tiers", tiers) == []
    rate = Rate(per_item=Decimal("99"), tiers=tuple(tiers))
    by_ordinal = sum((domain.per_item_price(rate, n) for n in range(1, count + 1)), Decimal(0))
    by_band = sum(
        (
            tier.per_item * max(0, min(count, tier.max_quantity or count) - tier.min_quantity + 1)
            for tier in tiers
        ),
        Decimal(0),
    )
    assert by_ordinal == by_band


def test_overlapping_gapped_and_misplaced_tiers_are_named() -> None:
    overlapping = [Tier(1, 100, Decimal(1)), Tier(50, None, Decimal(1))]
    gapped = [Tier(1, 100, Decimal(1)), Tier(150, None, Decimal(1))]
    open_early = [Tier(1, None, Decimal(1)), Tier(101, None, Decimal(1))]
    late_start = [Tier(5, None, Decimal(1))]
    assert [e.field for e in domain.tier_errors("t", overlapping)] == ["t[1].min_quantity"]
    assert "overlaps" in domain.tier_errors("t", overlapping)[0].message
    assert "gap" in domain.tier_errors("t", gapped)[0].message
    assert [e.field for e in domain.tier_errors("t", open_early)] == ["t[0].max_quantity"]
    assert [e.field for e in domain.tier_errors("t", late_start)] == ["t[0].min_quantity"]


@EXAMPLES
@given(unit=prices, per_field=prices, fields=st.integers(0, 40), pct=rates.map(lambda r: r * 100))
def test_an_item_costs_its_unit_and_fields_plus_any_rush_surcharge(
    unit: Decimal, per_field: Decimal, fields: int, pct: Decimal
) -> None:
    plain = domain.item_amount(unit, per_field, fields, Decimal(0))
    assert plain == unit + per_field * fields
    rushed = domain.item_amount(unit, per_field, fields, pct)
    assert abs(rushed - plain * (1 + pct / 100)) <= Decimal("0.000000005")


def test_rush_applies_only_below_the_threshold() -> None:
    rush = domain.Rush(max_sla_hours=Decimal(24), surcharge_pct=Decimal(50))
    assert domain.rush_pct(rush, Decimal(4)) == 50
    assert domain.rush_pct(rush, Decimal(24)) == 0
    assert domain.rush_pct(rush, None) == 0
    assert domain.rush_pct(None, Decimal(1)) == 0


def test_accepted_work_pays_overturned_a_fraction_rejected_nothing() -> None:
    fraction = Decimal("0.5")
    assert domain.earning_factor(TaskOutcome.ACCEPTED, fraction) == 1
    assert domain.earning_factor(TaskOutcome.OVERTURNED, fraction) == fraction
    assert domain.earning_factor(TaskOutcome.REJECTED, fraction) == 0


def test_money_typed_in_with_more_decimals_than_the_currency_has_is_refused() -> None:
    (error,) = domain.money_errors("amount", Decimal("1.005"), "EUR", positive=True)
    assert error.field == "amount"
    assert "2 decimals" in error.message
    assert domain.money_errors("amount", Decimal("100"), "JPY", positive=True) == []
    assert domain.money_errors("amount", Decimal("0"), "EUR", positive=True)[0].message == (
        "must be greater than zero"
    )
