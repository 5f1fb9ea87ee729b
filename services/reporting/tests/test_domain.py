"""The pure rules: turnaround bins and percentiles, buckets, the forecast."""

from datetime import UTC, datetime, timedelta

import pytest

from bpo_reporting.domain import (
    TURNAROUND_PRECISION,
    Bucket,
    OpenJob,
    bucket_starts,
    forecast,
    percentile,
    turnaround_bin,
)

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


def test_buckets_start_at_the_hour_or_day_holding_from_and_end_before_to() -> None:
    start = datetime(2030, 1, 1, 22, 30, tzinfo=UTC)

    hours = list(bucket_starts(start, start + timedelta(hours=2), Bucket.HOUR))
    days = list(bucket_starts(start, start + timedelta(days=1), Bucket.DAY))

    assert hours == [datetime(2030, 1, 1, h, tzinfo=UTC) for h in (22, 23)] + [
        datetime(2030, 1, 2, 0, tzinfo=UTC)
    ]
    assert days == [datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)]


def test_the_forecast_serves_the_earliest_due_job_first() -> None:
    jobs = [
        OpenJob("late", NOW + timedelta(hours=10), 20),
        OpenJob("soon", NOW + timedelta(hours=1), 10),
        OpenJob("whenever", None, 5),
        OpenJob("done", NOW, 0),
    ]

    done_at = forecast(jobs, per_hour=10, now=NOW)

    assert done_at == {
        "done": NOW,
        "soon": NOW + timedelta(hours=1),  # its own 10 items
        "late": NOW + timedelta(hours=3),  # after soon's 10, its own 20
        "whenever": NOW + timedelta(hours=3.5),
    }
    assert forecast(jobs, per_hour=0, now=NOW)["soon"] is None
