"""The SLA outlook (the forecast and who is at risk) and the dashboard's bucket, currency
and chart series."""

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from uuid import UUID

from bpo_reporting.domain.buckets import Bucket
from bpo_reporting.domain.dashboard import active, bucket_for, charts, currency_shown, offered
from bpo_reporting.domain.reports import Counts, figures
from bpo_reporting.domain.sla import (
    OpenJob,
    at_risk,
    forecast,
    outstanding,
    throughput_per_hour,
    window_start,
)
from bpo_reporting.schemas import ClientRow, ContractorRow, ThroughputBucket

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_the_forecast_serves_the_earliest_due_job_first() -> None:
    jobs = [
        OpenJob("late", NOW + timedelta(hours=10), 20),
        OpenJob("soon", NOW + timedelta(hours=1), 10),
        OpenJob("whenever", None, 5),
        OpenJob("done", NOW, 0),
        OpenJob("done before", NOW, 0, finished_at=NOW - timedelta(hours=2)),
    ]

    done_at = forecast(jobs, per_hour=10, now=NOW)

    assert done_at == {
        "done": NOW,
        "done before": NOW - timedelta(hours=2),  # when its last item was finished
        "soon": NOW + timedelta(hours=1),  # its own 10 items
        "late": NOW + timedelta(hours=3),  # after soon's 10, its own 20
        "whenever": NOW + timedelta(hours=3.5),
    }
    assert forecast(jobs, per_hour=0, now=NOW)["soon"] is None
    # Twelve million items at one finished in six hours: past the calendar's end, never.
    assert forecast([OpenJob("huge", None, 12_000_000)], 1 / 6, NOW) == {"huge": None}


def test_items_waiting_on_the_client_are_none_of_the_work_the_forecast_counts() -> None:
    jobs = [
        OpenJob("soon", NOW + timedelta(hours=1), 10, waiting=40),
        OpenJob("late", NOW + timedelta(hours=10), 20, waiting=5),
        OpenJob("held", NOW + timedelta(hours=2), 0, finished_at=NOW, waiting=3),
    ]

    done_at = forecast(jobs, per_hour=10, now=NOW)

    assert done_at == {
        "soon": NOW + timedelta(hours=1),  # its own 10 items, not the 40 held
        "held": None,  # nothing left for the keyers: when its client resolves them
        "late": NOW + timedelta(hours=3),  # after soon's 10, its own 20
    }
    # The held job waits on its client, not on the throughput: not at risk before its due
    # time, and at risk once it has passed.
    held = jobs[2]
    assert not at_risk(held, None, NOW)
    assert at_risk(held, None, NOW + timedelta(hours=2, seconds=1))
    assert not at_risk(jobs[0], done_at["soon"], NOW)
    # Of 6 items 3 finished and 2 held: 1 for the keyers, 2 on the client; an exception known
    # before its item counts no more than the items not finished.
    assert outstanding(6, 3, 2) == (1, 2)
    assert outstanding(3, 1, 5) == (0, 2)


def test_a_job_is_at_risk_when_forecast_after_its_due_time_or_never() -> None:
    due = NOW + timedelta(hours=1)
    job = OpenJob("due", due, 1)

    assert not at_risk(job, due, NOW)
    assert at_risk(job, due + timedelta(seconds=1), NOW)
    assert at_risk(job, None, NOW)
    assert not at_risk(OpenJob("whenever", None, 1), None, NOW)
    assert outstanding(6, 5, 0) == (1, 0)
    assert outstanding(2, 3, 1) == (0, 0)


def test_the_forecast_extrapolates_the_last_whole_hours_and_the_current_one() -> None:
    assert window_start(NOW + timedelta(minutes=59), 6) == NOW - timedelta(hours=6)
    start = NOW - timedelta(hours=6)
    assert throughput_per_hour(14, start, NOW + timedelta(hours=1)) == 2
    # Just after the hour turned: six hours and a half-minute have passed, not seven.
    assert throughput_per_hour(6, start, NOW + timedelta(seconds=36)) == 6 / 6.01
    # A window of one hour half a minute into the next: the last hour's 300 items count.
    one_hour = window_start(NOW + timedelta(seconds=30), 1)
    assert round(throughput_per_hour(300, one_hour, NOW + timedelta(seconds=30))) == 298


def test_the_dashboard_shows_hours_for_a_week_and_days_beyond() -> None:
    assert bucket_for(7) is Bucket.HOUR
    assert bucket_for(8) is Bucket.DAY
    assert currency_shown(None, ["EUR", "USD"]) == "EUR"
    assert currency_shown("USD", ["EUR"]) == "USD"
    assert currency_shown(None, []) is None
    # The switch is offered when the period has a currency besides the one shown, also when
    # the one shown (kept from another period) is not among the period's.
    assert offered(["EUR", "USD"], "EUR") == ["EUR", "USD"]
    assert offered(["USD"], "EUR") == ["USD"]
    assert offered(["EUR"], "EUR") == []
    assert offered([], "EUR") == []


def _contractor_row(contractor_id: UUID, accuracy: float | None) -> ContractorRow:
    return ContractorRow(
        contractor_id=contractor_id,
        tasks_submitted=0,
        tasks_expired=0,
        active_hours=0,
        tasks_per_active_hour=None,
        avg_seconds_to_submit=None,
        active_seconds=0.0,
        seconds_per_field=None,
        items_per_hour=None,
        entries_accepted=0,
        entries_overturned=0,
        entries_rejected=0,
        fields_judged=0,
        fields_correct=0,
        accuracy=accuracy,
        earnings=None,
    )


def test_the_dashboard_charts_are_the_reports_series() -> None:
    client = UUID("00000000-0000-0000-0000-0000c11e0001")
    contractor = UUID("00000000-0000-0000-0000-00000000c0de")
    hour = ThroughputBucket(
        start=NOW,
        **asdict(Counts(items_received=7, items_completed=2, jobs_sla_met=1, entries_accepted=1)),
    )
    clients = [ClientRow(client_id=client, **asdict(figures(Counts(), 3, {}, None, None)))]
    contractors = [
        _contractor_row(contractor, accuracy=round(8 / 9, 4)),
        _contractor_row(contractor, accuracy=None),
    ]

    assert charts([hour], clients, contractors) == {
        "throughput": {
            "t": [int(NOW.timestamp())],
            "received": [7],
            "completed": [2],
            "sla_met": [1],
            "sla_missed": [0],
        },
        "backlog": {"labels": ["c11e0001"], "values": [3]},
        "accuracy": {"labels": ["0000c0de", "0000c0de"], "values": [88.9, None]},
    }


def test_the_charts_table_lists_the_buckets_they_show_anything_in() -> None:
    def bucket(hours: int, **counts: int) -> ThroughputBucket:
        return ThroughputBucket(start=NOW + timedelta(hours=hours), **asdict(Counts(**counts)))

    quiet = bucket(0, entries_accepted=3, items_rejected=1)
    busy = [bucket(1, items_received=1), bucket(2, items_completed=1), bucket(3, jobs_sla_missed=1)]

    assert active([quiet, *busy, bucket(4, jobs_sla_met=2)]) == [*busy, bucket(4, jobs_sla_met=2)]
