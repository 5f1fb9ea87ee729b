"""What an item costs: graduated tiers, a price per field, the rush surcharge."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bpo_billing.domain.periods import day_of, month_of
from bpo_billing.domain.price_books import (
    Rate,
    Rush,
    Tier,
    covering,
    in_force,
    item_amount,
    per_item_price,
    price_book_errors,
    price_item,
    rush_pct,
    sla_hours,
    taken_effect,
    tier_errors,
)

EXAMPLES = settings(max_examples=150, deadline=None)

prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


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
    assert tier_errors("tiers", tiers) == []
    rate = Rate(per_item=Decimal("99"), tiers=tuple(tiers))
    by_ordinal = sum((per_item_price(rate, n) for n in range(1, count + 1)), Decimal(0))
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
    assert [e.field for e in tier_errors("t", overlapping)] == ["t[1].min_quantity"]
    assert "overlaps" in tier_errors("t", overlapping)[0].message
    assert "gap" in tier_errors("t", gapped)[0].message
    assert [e.field for e in tier_errors("t", open_early)] == ["t[0].max_quantity"]
    assert [e.field for e in tier_errors("t", late_start)] == ["t[0].min_quantity"]


def test_a_price_book_keeps_its_currency_and_lists_at_least_one_work_type() -> None:
    rate = {"invoice": Rate(per_item=Decimal(1))}
    assert price_book_errors("EUR", rate, Decimal("10.00"), "EUR") == []
    assert [e.field for e in price_book_errors("EUX", {}, Decimal("0.001"), None)] == ["currency"]
    refused = price_book_errors("USD", {}, Decimal("0.001"), "EUR")
    assert [e.field for e in refused] == ["currency", "rates", "minimum_monthly_fee"]
    # A client billed in a currency ISO 4217 has since withdrawn keeps it in a new version.
    assert price_book_errors("BGN", rate, Decimal("10.00"), "BGN") == []
    assert [e.field for e in price_book_errors("BGN", rate, Decimal(0), None)] == ["currency"]


@EXAMPLES
@given(unit=prices, per_field=prices, fields=st.integers(0, 40), pct=rates.map(lambda r: r * 100))
def test_an_item_costs_its_unit_and_fields_plus_any_rush_surcharge(
    unit: Decimal, per_field: Decimal, fields: int, pct: Decimal
) -> None:
    plain = item_amount(unit, per_field, fields, Decimal(0))
    assert plain == unit + per_field * fields
    rushed = item_amount(unit, per_field, fields, pct)
    assert abs(rushed - plain * (1 + pct / 100)) <= Decimal("0.000000005")


def test_rush_applies_only_below_the_threshold() -> None:
    rush = Rush(max_sla_hours=Decimal(24), surcharge_pct=Decimal(50))
    assert rush_pct(rush, Decimal(4)) == 50
    assert rush_pct(rush, Decimal(24)) == 0
    assert rush_pct(rush, None) == 0
    assert rush_pct(None, Decimal(1)) == 0


def test_a_jobs_sla_is_as_given_else_from_its_due_time() -> None:
    created = datetime(2026, 3, 1, tzinfo=UTC)
    assert sla_hours(Decimal(48), created + timedelta(hours=4), created) == 48
    assert sla_hours(None, created + timedelta(hours=4), created) == 4
    assert sla_hours(None, None, created) is None
    # Set 24 h ahead by the client's clock, the job created 0.3 s later: still 24 h, no rush.
    assert sla_hours(None, created + timedelta(hours=24), created + timedelta(seconds=0.3)) == 24


def test_the_third_item_of_a_rushed_job_pays_its_tier_its_fields_and_the_surcharge() -> None:
    rate = Rate(
        per_item=Decimal("1.00"),
        per_field=Decimal("0.01"),
        tiers=(Tier(1, 2, Decimal("1.00")), Tier(3, None, Decimal("0.80"))),
    )
    rush = Rush(max_sla_hours=Decimal(24), surcharge_pct=Decimal(50))
    price = price_item(rate, 3, 5, rush, Decimal(4))
    assert (price.unit_price, price.field_price, price.rush_pct) == (
        Decimal("0.80"),
        Decimal("0.01"),
        Decimal(50),
    )
    assert price.amount == Decimal("1.275")  # (0.80 + 5 x 0.01) x 1.5
    assert price_item(rate, 1, 0, rush, Decimal(48)).amount == Decimal("1.00")


def test_a_moment_written_with_an_offset_falls_on_its_utc_day_and_month() -> None:
    # 01:00 on April 1st in UTC+2 is still March 31st in UTC: March's price book and tiers.
    moment = datetime(2026, 4, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert (day_of(moment), month_of(moment)) == (date(2026, 3, 31), date(2026, 3, 1))


@dataclass(frozen=True)
class _Version:
    effective_from: date
    rates: dict[str, Any] = field(default_factory=dict)


def test_the_version_in_force_is_the_latest_taken_effect_and_before_any_the_earliest() -> None:
    # Put in this order: the second takes effect before the first.
    june = _Version(date(2026, 6, 1), {"invoice": {}})
    may = _Version(date(2026, 5, 15), {"invoice": {}})
    versions = [june, may]
    assert in_force(versions, date(2026, 5, 3)) is may, "before any: the earliest"
    assert taken_effect(versions, date(2026, 5, 3)) is None, "none had taken effect yet"
    assert taken_effect(versions, date(2026, 6, 2)) is june
    assert in_force(versions, date(2026, 5, 20)) is may
    assert in_force(versions, date(2026, 6, 1)) is june
    assert in_force([], date(2026, 6, 1)) is None


def test_an_item_the_version_in_force_does_not_list_is_priced_by_the_first_later_that_does() -> (
    None
):
    first = _Version(date(2026, 1, 1), {"invoice": {}})
    later = _Version(date(2026, 6, 1), {"invoice": {}, "passport": {}})
    last = _Version(date(2026, 7, 1), {"passport": {}})
    versions = [first, last, later]
    assert covering(versions, date(2026, 5, 11), "invoice") is first
    assert covering(versions, date(2026, 5, 11), "passport") is later
    assert covering(versions, date(2026, 7, 2), "passport") is last
    assert covering(versions, date(2026, 7, 2), "invoice") is None, "dropped: it waits"
    assert covering(versions, date(2026, 5, 11), "forms") is None
