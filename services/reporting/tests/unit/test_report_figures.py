"""The report arithmetic: turnaround bins and percentiles, buckets, periods and currencies,
ratios, rates and money."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from bpo_common.errors import Invalid
from bpo_reporting.domain import reports
from bpo_reporting.domain.buckets import Bucket, bucket_starts, first_hour_from
from bpo_reporting.domain.reports import ContractorWork, Counts, Money, marked_mixed, total
from bpo_reporting.domain.turnaround import TURNAROUND_PRECISION, merged, percentile, turnaround_bin

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("seconds", [1, 1.5, 59, 61, 600, 3599, 3600, 86_400, 30 * 86_400])
def test_a_binned_turnaround_reads_back_within_the_stated_precision(seconds: float) -> None:
    read = percentile({turnaround_bin(seconds): 1}, 0.5)

    assert read == pytest.approx(seconds, rel=TURNAROUND_PRECISION + 0.001)


def test_percentiles_are_nearest_rank_over_the_bins() -> None:
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]
    bins: dict[int, int] = {}
    for value in values:
        bins[turnaround_bin(value)] = bins.get(turnaround_bin(value), 0) + 1

    assert percentile(bins, 0.5) == pytest.approx(50, rel=TURNAROUND_PRECISION)
    assert percentile(bins, 0.9) == pytest.approx(90, rel=TURNAROUND_PRECISION)
    assert percentile(bins, 1.0) == pytest.approx(1000, rel=TURNAROUND_PRECISION)
    assert percentile({}, 0.5) is None


def test_the_overview_reads_every_clients_bins_as_one() -> None:
    assert merged([{3: 1, 5: 2}, {5: 1, 8: 4}, {}]) == {3: 1, 5: 3, 8: 4}
    assert merged([]) == {}


def test_buckets_start_at_the_first_hour_of_the_period_or_its_day_and_end_before_to() -> None:
    start = datetime(2030, 1, 1, 22, 30, tzinfo=UTC)

    hours = list(bucket_starts(start, start + timedelta(hours=2), Bucket.HOUR))
    days = list(bucket_starts(start, start + timedelta(days=1), Bucket.DAY))
    late = datetime(2030, 1, 1, 23, 30, tzinfo=UTC)  # its first hour is the next day's

    assert hours == [datetime(2030, 1, 1, 23, tzinfo=UTC), datetime(2030, 1, 2, 0, tzinfo=UTC)]
    assert days == [datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)]
    assert next(bucket_starts(late, late + timedelta(days=1), Bucket.DAY)) == datetime(
        2030, 1, 2, tzinfo=UTC
    )


def test_a_period_counts_the_hours_that_begin_in_it_so_consecutive_days_share_none() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    day = datetime(2030, 3, 10, tzinfo=india)  # 18:30 UTC the day before

    assert first_hour_from(day) == datetime(2030, 3, 9, 19, tzinfo=UTC)
    assert first_hour_from(datetime(2030, 3, 9, 19, tzinfo=UTC)) == datetime(
        2030, 3, 9, 19, tzinfo=UTC
    )


def test_a_period_moves_forward_and_spans_a_month_of_hours_or_a_year_of_days() -> None:
    reports.check_period(NOW, NOW + timedelta(days=366))
    reports.check_period(
        NOW, NOW + reports.longest_period(Bucket.HOUR), reports.longest_period(Bucket.HOUR)
    )

    refusals = []
    for start, end, longest in [
        (NOW, NOW, reports.longest_period(Bucket.DAY)),
        (NOW, NOW + timedelta(days=366, seconds=1), reports.longest_period(Bucket.DAY)),
        (NOW, NOW + timedelta(days=31, seconds=1), reports.longest_period(Bucket.HOUR)),
    ]:
        with pytest.raises(Invalid) as refused:
            reports.check_period(start, end, longest)
        refusals.append((refused.value.detail, [error.field for error in refused.value.errors]))
    assert refusals == [
        ("from must be before to", ["from"]),
        ("the period may span at most 366 days", ["from"]),
        ("the period may span at most 31 days", ["from"]),
    ]


def test_money_is_read_in_the_only_currency_of_the_period_or_one_chosen() -> None:
    assert reports.only_currency([]) is None
    assert reports.only_currency(["EUR"]) == "EUR"
    with pytest.raises(Invalid) as refused:
        reports.only_currency(["EUR", "USD"])
    assert refused.value.detail == "the period has amounts in EUR, USD; choose one with currency"
    assert [(e.field, e.message) for e in refused.value.errors] == [("currency", "one of EUR, USD")]


def test_ratios_are_rounded_to_four_places_and_none_without_a_whole() -> None:
    counts = Counts(jobs_sla_met=1, jobs_sla_missed=2, fields_judged=15, fields_correct=11)

    assert counts.sla_met_ratio == 0.3333
    assert counts.accuracy == round(11 / 15, 4)
    assert Counts().sla_met_ratio is None
    assert Counts().accuracy is None
    assert Counts(items_completed=7, items_rejected=1).items_finished == 8


def test_a_contractors_rates_are_per_active_hour_and_per_task() -> None:
    work = ContractorWork(
        tasks_submitted=3, active_hours=2, submit_seconds=2400.0, fields_judged=9, fields_correct=8
    )

    assert work.tasks_per_active_hour == 1.5
    assert work.avg_seconds_to_submit == 800.0
    assert work.accuracy == round(8 / 9, 4)
    assert ContractorWork(tasks_submitted=2, active_hours=3).tasks_per_active_hour == 0.667
    idle = ContractorWork(tasks_expired=1)
    assert (idle.tasks_per_active_hour, idle.avg_seconds_to_submit, idle.accuracy) == (
        None,
        None,
        None,
    )


def test_the_margin_is_revenue_less_contractor_cost_summed_over_clients() -> None:
    money = reports.total([Money(Decimal("9.50"), Decimal("1.60")), Money(Decimal("2.00"))])

    assert (money.revenue, money.contractor_cost, money.margin) == (
        Decimal("11.50"),
        Decimal("1.60"),
        Decimal("9.90"),
    )
    assert str(reports.total([]).margin) == "0"
    assert Money(Decimal(1), Decimal("1.20")).margin == Decimal("-0.20")


def test_the_clients_figures_read_their_counts_bins_backlog_and_money() -> None:
    counts = Counts(
        items_received=9,
        items_completed=7,
        items_rejected=1,
        jobs_sla_met=1,
        jobs_sla_missed=1,
        fields_judged=15,
        fields_correct=11,
    )
    bins = {turnaround_bin(1800): 2, turnaround_bin(3600): 3, turnaround_bin(7200): 2}

    shown = reports.figures(counts, 1, bins, Money(Decimal("11.5"), Decimal("1.6")), "EUR")
    unpriced = reports.figures(Counts(), 0, {}, None, None)

    assert shown == reports.Figures(
        items_received=9,
        items_completed=7,
        items_rejected=1,
        backlog=1,
        turnaround_p50_s=percentile(bins, 0.5),
        turnaround_p90_s=percentile(bins, 0.9),
        sla_met_ratio=0.5,
        accuracy=round(11 / 15, 4),
        revenue=Decimal("11.50"),
        contractor_cost=Decimal("1.60"),
        margin=Decimal("9.90"),
    )
    assert [str(shown.revenue), str(shown.contractor_cost), str(shown.margin)] == [
        "11.50",
        "1.60",
        "9.90",
    ]
    assert shown.turnaround_p50_s == pytest.approx(3600, rel=TURNAROUND_PRECISION)
    assert (unpriced.revenue, unpriced.contractor_cost, unpriced.margin) == (None, None, None)
    assert (unpriced.turnaround_p50_s, unpriced.sla_met_ratio, unpriced.accuracy) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        ("0.5", "EUR", "0.50"),  # as billing sends an amount: without trailing zeros
        ("475.0", "EUR", "475.00"),
        ("950", "EUR", "950.00"),
        ("118.750", "EUR", "118.75"),
        ("0.125", "EUR", "0.125"),  # the exact amount, to more places than cents
        ("1.00342778", "EUR", "1.00342778"),
        ("-0.30000000", "EUR", "-0.30"),
        ("0E-8", "EUR", "0.00"),
        ("3000.00", "JPY", "3000"),
        ("475.0", "BHD", "475.000"),
    ],
)
def test_money_is_written_to_its_currencys_minor_unit_at_least(
    amount: str, currency: str, written: str
) -> None:
    assert str(reports.money_shown(Decimal(amount), currency)) == written
    assert reports.money_shown(None, currency) is None


def test_no_margin_where_a_clients_cost_and_revenue_are_in_different_currencies() -> None:
    mixed, in_two, plain = uuid4(), uuid4(), uuid4()
    in_euros = {
        mixed: Money(Decimal("10.00")),  # its keyers are paid in USD
        in_two: Money(Decimal("8.00")),  # revenue in EUR and USD, no cost: each margin holds
        plain: Money(Decimal("5.00"), Decimal("2.00")),
    }
    currencies = {
        mixed: {"EUR": False, "USD": True},
        in_two: {"EUR": False, "USD": False},
        plain: {"EUR": True},
        uuid4(): {"USD": False, "GBP": True},  # none in EUR: not listed in EUR
    }
    marked = marked_mixed(in_euros, currencies)
    assert {client: money.margin for client, money in marked.items()} == {
        mixed: None,
        in_two: Decimal("8.00"),
        plain: Decimal("3.00"),
    }
    assert total(marked.values()).margin is None
    assert total([marked[in_two], marked[plain]]).margin == Decimal("11.00")
