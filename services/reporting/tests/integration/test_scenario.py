"""Every figure of the reports against a day of work computed by hand (see scenario.py)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from bpo_reporting.domain.turnaround import TURNAROUND_PRECISION

from .api import Reports
from .scenario import Scenario, publish, published

DAY = datetime(2002, 5, 6, tzinfo=UTC)
WHOLE_DAY = {"from": "2002-05-06T00:00:00Z", "to": "2002-05-07T00:00:00Z"}
# The turnaround bins' middles (2^((b + 0.5) / 8)) that hold 3600 s and 7200 s.
BIN_OF_3600_S = round(2 ** (94.5 / 8), 1)
BIN_OF_7200_S = round(2 ** (102.5 / 8), 1)
# The day's figures, in the overview of the client and in its row of the clients report.
THE_CLIENTS_DAY = {
    "items_received": 9,
    "items_completed": 7,
    "items_rejected": 1,
    "backlog": 1,  # f, in job 1, still open
    # Turnarounds 1800 1800 3000 3600 3600 5100 7200: ranks 4 and 7, read from their bins.
    "turnaround_p50_s": BIN_OF_3600_S,
    "turnaround_p90_s": BIN_OF_7200_S,
    "sla_met_ratio": 0.5,
    "accuracy": round(11 / 15, 4),
    "revenue": "11.50",
    "contractor_cost": "1.60",
    "margin": "9.90",
}


@pytest.fixture(scope="module")
async def day(reporting: httpx.AsyncClient, js: JetStreamContext) -> Scenario:
    return await published(js, DAY)


async def test_overview_of_the_day_matches_the_hand_computed_figures(
    reports: Reports, day: Scenario
) -> None:
    overview = await reports.body("overview", **WHOLE_DAY, client_id=str(day.client_id))

    assert overview == {
        "period_from": "2002-05-06T00:00:00Z",
        "period_to": "2002-05-07T00:00:00Z",
        **THE_CLIENTS_DAY,
        "currency": "EUR",
    }
    assert overview["turnaround_p50_s"] == pytest.approx(3600, rel=TURNAROUND_PRECISION)
    assert overview["turnaround_p90_s"] == pytest.approx(7200, rel=TURNAROUND_PRECISION)


BUCKET_COUNTS = ["items_received", "items_completed", "items_rejected", "jobs_sla_met"]
BUCKET_COUNTS += ["jobs_sla_missed", "entries_accepted", "entries_overturned", "entries_rejected"]


def _bucket(start: str, *counts: int) -> dict[str, Any]:
    """A bucket of the throughput report: its counts in the order of BUCKET_COUNTS."""
    return {"start": start, **dict(zip(BUCKET_COUNTS, counts or [0] * 8, strict=True))}


async def test_hourly_throughput_lists_every_hour_with_the_quiet_ones_as_zero(
    reports: Reports, day: Scenario
) -> None:
    throughput = await reports.body(
        "throughput",
        **{"from": "2002-05-06T07:30:00Z", "to": "2002-05-06T12:00:00Z"},
        bucket="hour",
        client_id=str(day.client_id),
    )

    assert throughput["bucket"] == "hour"
    # Items received, completed, rejected; jobs on time, late; entries accepted, overturned,
    # rejected.
    # From 08:00, the first hour that begins in the period.
    assert throughput["data"] == [
        _bucket("2002-05-06T08:00:00Z", 7, 2, 0, 0, 0, 1, 0, 0),
        _bucket("2002-05-06T09:00:00Z", 2, 3, 1, 1, 1, 0, 1, 1),
        _bucket("2002-05-06T10:00:00Z", 0, 2, 0, 0, 0, 2, 0, 0),
        _bucket("2002-05-06T11:00:00Z"),
    ]


async def test_daily_throughput_of_one_work_type(reports: Reports, day: Scenario) -> None:
    throughput = await reports.body(
        "throughput",
        **{"from": "2002-05-05T00:00:00Z", "to": "2002-05-08T00:00:00Z"},
        bucket="day",
        client_id=str(day.client_id),
        work_type="invoice",
    )

    # Jobs 1 and 3 are invoices: a..f and i; job 2's g and h are claims.
    assert throughput["data"] == [
        _bucket("2002-05-05T00:00:00Z"),
        _bucket("2002-05-06T00:00:00Z", 7, 5, 1, 0, 1, 3, 1, 1),
        _bucket("2002-05-07T00:00:00Z"),
    ]
    assert throughput["work_type"] == "invoice"
    assert throughput["client_id"] == str(day.client_id)


async def test_a_day_cut_in_two_periods_counts_each_hour_once(
    reports: Reports, day: Scenario
) -> None:
    # A client exporting its local days (UTC+2: 22:00 to 22:00), or a period cut mid-hour:
    # the first bucket counts the period's hours only, so back-to-back periods add up.
    async def counts(start: str, end: str) -> dict[str, int]:
        throughput = await reports.body(
            "throughput", **{"from": start, "to": end}, bucket="day", client_id=str(day.client_id)
        )
        (bucket,) = throughput["data"]
        assert bucket["start"] == "2002-05-06T00:00:00Z"
        return {name: bucket[name] for name in BUCKET_COUNTS}

    whole = await counts("2002-05-06T00:00:00Z", "2002-05-07T00:00:00Z")
    morning = await counts("2002-05-06T00:00:00Z", "2002-05-06T08:30:00Z")
    rest = await counts("2002-05-06T08:30:00Z", "2002-05-07T00:00:00Z")
    assert {name: morning[name] + rest[name] for name in BUCKET_COUNTS} == whole
    assert (morning["items_received"], rest["items_received"]) == (7, 2), "08:00's in the first"


async def test_contractors_report_counts_tasks_time_to_submit_accuracy_and_earnings(
    reports: Reports, day: Scenario
) -> None:
    report = await reports.body("contractors", **WHOLE_DAY)

    assert report["currency"] == "EUR"
    # Each figure for K1 and K2, side by side.
    figures: dict[str, tuple[Any, Any]] = {
        "tasks_submitted": (3, 2),
        "tasks_expired": (0, 1),
        "active_hours": (2, 1),
        "tasks_per_active_hour": (1.5, 2.0),
        "avg_seconds_to_submit": (800.0, 1950.0),  # K1: 600, 1200, 600; K2: 3600, 300
        # Measured on two of K1's tasks (90 + 60 s, one field each), one of K2's (120 s).
        "active_seconds": (150.0, 120.0),
        "seconds_per_field": (75.0, 120.0),
        "items_per_hour": (48.0, 30.0),
        "entries_accepted": (2, 1),
        "entries_overturned": (1, 0),
        "entries_rejected": (0, 1),
        "fields_judged": (9, 6),
        "fields_correct": (8, 3),
        "accuracy": (round(8 / 9, 4), 0.5),
        "earnings": ("1.20", "0.40"),
    }
    assert report["data"] == [
        {"contractor_id": str(who), **{name: pair[n] for name, pair in figures.items()}}
        for n, who in enumerate([day.k1, day.k2])
    ]


async def test_clients_report_gives_volume_turnaround_and_money_per_client(
    reports: Reports, day: Scenario
) -> None:
    report = await reports.body("clients", **WHOLE_DAY)

    assert report["currency"] == "EUR"
    ours = [row for row in report["data"] if row["client_id"] == str(day.client_id)]
    assert ours == [{"client_id": str(day.client_id), **THE_CLIENTS_DAY}]
    # The other rows are other tests' clients, listed for their backlog alone.
    assert all(row["items_received"] == 0 for row in report["data"] if row not in ours)


async def test_sla_report_lists_the_open_job_late_against_its_due_time(
    reports: Reports, day: Scenario
) -> None:
    before = datetime.now(UTC)
    report = await reports.body("sla", client_id=str(day.client_id))

    assert report["window_hours"] == 6
    assert before <= datetime.fromisoformat(report["generated_at"]) <= datetime.now(UTC)
    assert (report["jobs_open"], report["jobs_at_risk"]) == (1, 1)
    (job,) = report["data"]  # jobs 2 and 3 completed; job 1 is open
    forecast = job.pop("forecast_completion_at")
    assert job == {
        "job_id": str(day.jobs[1]),
        "client_id": str(day.client_id),
        "work_type": "invoice",
        "due_at": "2002-05-06T12:00:00Z",
        "closed": False,
        "items_total": 6,
        "items_remaining": 1,
        "items_waiting_on_client": 0,
        "documents": 0,
        "pages": 0,
        "at_risk": True,
    }
    assert forecast is None or datetime.fromisoformat(forecast) >= before
    # Cut at `limit`, the report says how many it left out (other tests' jobs are open too).
    cut = await reports.body("sla", limit="1")
    assert len(cut["data"]) == 1
    assert cut["jobs_open"] == (await reports.body("sla", limit="500"))["jobs_open"]


async def test_accuracy_report_lists_what_adaptive_jobs_delivered_the_miss_flagged(
    reports: Reports, day: Scenario
) -> None:
    report = await reports.body("accuracy", **WHOLE_DAY, client_id=str(day.client_id))

    assert (report["jobs"], report["flagged"]) == (2, 1)
    identity = {"client_id": str(day.client_id), "work_type": "claim"}
    assert report["data"] == [  # the latest first
        {
            **identity,
            "job_id": str(day.jobs[3]),
            "work_type": "invoice",
            "target": "0.95",
            "estimate": 0.962,
            "lower": 0.8905,
            "upper": 1.0,
            "assured": 0.9118,
            "met": False,
            "items": 1,
            "single_keyed": 1,
            "keyed_twice": 0,
            "decided_at": "2002-05-06T09:31:00Z",
        },
        {
            **identity,
            "job_id": str(day.jobs[2]),
            "target": "0.98",
            "estimate": 0.995,
            "lower": 0.9812,
            "upper": 1.0,
            "assured": 0.9843,
            "met": True,
            "items": 2,
            "single_keyed": 1,
            "keyed_twice": 1,
            "decided_at": "2002-05-06T09:16:00Z",
        },
    ]
    # A period that ends before job 3's figures came, as CSV.
    csv_answer = await reports.get(
        "accuracy",
        {"from": "2002-05-06T00:00:00Z", "to": "2002-05-06T09:30:00Z"},
        accept="text/csv",
    )
    assert csv_answer.headers["content-disposition"] == 'attachment; filename="accuracy.csv"'
    (row,) = list(csv.DictReader(io.StringIO(csv_answer.text)))
    assert {name: row[name] for name in ("job_id", "estimate", "assured", "met")} == {
        "job_id": str(day.jobs[2]),
        "estimate": "0.995",
        "assured": "0.9843",
        "met": "true",
    }


async def test_reports_answer_csv_when_asked(reports: Reports, day: Scenario) -> None:
    response = await reports.get(
        "throughput",
        {
            "from": "2002-05-06T09:00:00Z",
            "to": "2002-05-06T11:00:00Z",
            "client_id": str(day.client_id),
        },
        accept="text/csv",
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="throughput.csv"'
    assert response.headers["vary"] == "Accept"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["start"], row["items_received"], row["items_completed"]) for row in rows] == [
        ("2002-05-06T09:00:00Z", "2", "3"),
        ("2002-05-06T10:00:00Z", "0", "2"),
    ]

    overview = await reports.get(
        "overview",
        {**WHOLE_DAY, "client_id": str(day.client_id)},
        accept="text/csv;q=0.9, application/json;q=0.5",
    )
    (row,) = list(csv.DictReader(io.StringIO(overview.text)))
    assert (row["items_received"], row["backlog"], row["revenue"], row["currency"]) == (
        "9",
        "1",
        "11.50",
        "EUR",
    )

    sla = await reports.get("sla", {"client_id": str(day.client_id)}, accept="text/csv")
    (job,) = list(csv.DictReader(io.StringIO(sla.text)))
    # Booleans as JSON writes them.
    assert {name: job[name] for name in ("closed", "items_remaining", "at_risk")} == {
        "closed": "false",
        "items_remaining": "1",
        "at_risk": "true",
    }


def _numbers(value: Any) -> Any:
    """A report without its ids and times, to compare two scenarios' figures."""
    skip = {"period_from", "period_to", "start", "generated_at", "client_id", "contractor_id"}
    skip |= {"job_id", "due_at", "forecast_completion_at", "decided_at"}
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items() if key not in skip}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value


async def _all_reports(reports: Reports, scenario: Scenario) -> dict[str, Any]:
    day = {
        "from": scenario.day.isoformat(),
        "to": (scenario.day + timedelta(days=1)).isoformat(),
    }
    client = {"client_id": str(scenario.client_id)}
    sla = await reports.body("sla", **client)
    return {
        "overview": await reports.body("overview", **day, **client),
        "hourly": await reports.body("throughput", **day, **client),
        "daily": await reports.body("throughput", **day, **client, bucket="day"),
        "contractors": await reports.body("contractors", **day),
        "clients": await reports.body("clients", **day),
        "accuracy": await reports.body("accuracy", **day, **client),
        "sla": sla["data"],
    }


async def test_events_reversed_and_repeated_give_the_same_numbers(
    reports: Reports, js: JetStreamContext, day: Scenario
) -> None:
    # The same day a month later, its events newest first: completions before receipts,
    # scores before submissions, the job's end before its start. Each is delivered twice,
    # and the facts are also sent again under new event ids, as a republishing service would.
    again = Scenario(DAY + timedelta(days=31))
    envelopes = list(reversed(again.envelopes()))
    republished = [
        envelope.model_copy(update={"id": envelope.id.__class__(int=envelope.id.int ^ 1)})
        for envelope in envelopes
    ]
    await publish(js, envelopes + envelopes + republished)

    first, second = (
        await _all_reports(reports, day),
        await _all_reports(reports, again),
    )

    assert _numbers(second) == _numbers(first)
    assert second["overview"]["items_received"] == 9
    assert second["overview"]["revenue"] == "11.50"
