"""Report queries: overview and throughput latency with a small and a large history.

    .venv/bin/python bench/report_queries.py [--small 100000] [--large 1000000]
        [--requests 200] [--quick]

The issue's sizes are --small 100000 --large 10000000: about ten minutes on 2 cores (COPY of
ten million task rows and their rollups); the default large size keeps `make bench` short.

Starts its own durable PostgreSQL and NATS on free ports and the reporting service (one
uvicorn worker, as `make run` starts it). For each size it empties the read models and loads
a synthetic history of that many task events over the same 90 days, 5 clients and 2 work
types: the task facts (one row per task event), the item facts (one per two tasks) and the
job facts (one per 50 items, 50 of them open) go in with COPY; the rollups are then
aggregated from those facts in SQL, as the consumers would have built them; then ANALYZE.

- product: p95 latency of `GET /v1/reports/overview` (the last 30 days) and of
  `GET /v1/reports/throughput` (the last 7 days, hourly buckets) over HTTP, one keep-alive
  connection, `--requests` of each after a warm-up, with the large history.
- baseline: the same requests with the small history.
- ratio = small p95 / large p95 (higher is better; the issue's target, large / small <= 1.5,
  is ratio >= 0.67). Reports read rollups, whose size depends on the hours and the clients and
  work types in the period, not on how many events made them; so the ratio should stay
  near 1 however long the history.

It exits 0 whatever the figures: it measures, it does not judge. The last line of its output
is the machine-readable `RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

import asyncpg
import httpx
from harness import FullStack, full_stack, measured, print_table, result_line

from bpo_common.auth import Role
from bpo_common.db import asyncpg_dsn

TARGET_RATIO = round(1 / 1.5, 3)
SMALL_DAYS = 30
CLIENTS = 5
WORK_TYPES = ("invoice", "claim")
CONTRACTORS = 200
ITEMS_PER_JOB = 50
OPEN_JOBS = 50
ROWS_PER_CHUNK = 20_000
READ_MODELS = (
    "job_fact, item_fact, task_fact, ledger_fact, hourly_rollup, turnaround_rollup, "
    "money_rollup, contractor_rollup, contractor_earning_rollup"
)


def uuid_text(kind: int, n: int) -> str:
    """A valid, distinct UUIDv7-shaped text for entity `kind` number `n`; cheap to make."""
    return f"00000000-{kind:04x}-7000-8000-{n:012x}"


# The synthetic history


class History:
    """`tasks` task events at the same rate per day as the small history (`per_day`), ending
    now: two tasks per item, 50 items per job. A larger history is a longer one."""

    def __init__(self, tasks: int, per_day: float, now: datetime) -> None:
        self.tasks = tasks
        self.items = max(tasks // 2, 1)
        self.jobs = max(self.items // ITEMS_PER_JOB, OPEN_JOBS)
        self.days = max(SMALL_DAYS, round(tasks / per_day))
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=self.days)
        self.day_text = [
            (start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(self.days + 1)
        ]
        self.hm_text = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
        self.span = self.days * 24 * 60 - 180  # receipts end three hours before now

    def at(self, minute: int) -> str:
        return f"{self.day_text[minute // 1440]} {self.hm_text[minute % 1440]}:00+00"

    def item_minute(self, n: int) -> int:
        return (n * 7919) % self.span  # spread evenly, not in id order

    def job(self, n: int) -> int:
        return n % self.jobs

    def client(self, job: int) -> str:
        return uuid_text(1, job % CLIENTS)

    def work_type(self, job: int) -> str:
        return WORK_TYPES[(job // CLIENTS) % len(WORK_TYPES)]

    def item_rows(self, start: int, end: int) -> str:
        lines = []
        for n in range(start, end):
            job = self.job(n)
            received = self.item_minute(n)
            turnaround = 1 + n % 120  # minutes
            completed = r"\N"
            rejected = r"\N"
            seconds = r"\N"
            if n % 20 == 19:
                rejected = self.at(received + turnaround)
            elif job >= OPEN_JOBS or n % 3:
                completed = self.at(received + turnaround)
                seconds = str(turnaround * 60)
            lines.append(
                f"{uuid_text(2, n)}\t{uuid_text(3, job)}\t{self.client(job)}\t"
                f"{self.work_type(job)}\tf\t{self.at(received)}\t"
                f"{self.at(received + 1)}\t{completed}\t{rejected}\t{seconds}\n"
            )
        return "".join(lines)

    def task_rows(self, start: int, end: int) -> str:
        lines = []
        outcomes = ("accepted", "accepted", "accepted", "overturned", "accepted", "rejected")
        for k in range(start, end):
            n = k // 2
            job = self.job(n)
            received = self.item_minute(n)
            outcome = outcomes[k % len(outcomes)]
            correct = {"accepted": 3, "overturned": 2, "rejected": 0}[outcome]
            lines.append(
                f"{uuid_text(4, k)}\t{uuid_text(2, n)}\t{uuid_text(3, job)}\t{self.client(job)}\t"
                f"{uuid_text(5, k % CONTRACTORS)}\t{self.work_type(job)}\tentry\t"
                f"{self.at(received + 1)}\t{self.at(received + 2)}\t{outcome}\t3\t"
                f"{correct}\t{self.at(received + 3 + n % 118)}\n"
            )
        return "".join(lines)

    def job_rows(self) -> str:
        lines = []
        created = self.at(0)
        for job in range(self.jobs):
            due = self.at(min(self.span + 200, (job * 7919) % self.span + 1440))
            completed = r"\N" if job < OPEN_JOBS else self.at((job * 7919) % self.span + 120)
            received = self.items // self.jobs
            lines.append(
                f"{uuid_text(3, job)}\t{self.client(job)}\t{self.work_type(job)}\t{due}\t"
                f"{created}\t\\N\t{completed}\t\\N\t{received}\t{received // 2}\t0\n"
            )
        return "".join(lines)


async def _chunks(make: Any, total: int) -> AsyncIterator[bytes]:
    for start in range(0, total, ROWS_PER_CHUNK):
        yield make(start, min(start + ROWS_PER_CHUNK, total)).encode()
        await asyncio.sleep(0)


HOURLY = (
    "items_received", "items_completed", "items_rejected", "jobs_sla_met", "jobs_sla_missed",
    "entries_accepted", "entries_overturned", "entries_rejected", "fields_judged",
    "fields_correct",
)  # fmt: skip
# Each source gives (client, work type, hour, the HOURLY counters in order); summed in one go.
_HOURLY_SOURCES = """
    SELECT client_id, work_type, date_trunc('hour', received_at) AS hour,
           1, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM item_fact
    UNION ALL
    SELECT client_id, work_type, date_trunc('hour', completed_at), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0
    FROM item_fact WHERE completed_at IS NOT NULL
    UNION ALL
    SELECT client_id, work_type, date_trunc('hour', rejected_at), 0, 0, 1, 0, 0, 0, 0, 0, 0, 0
    FROM item_fact WHERE rejected_at IS NOT NULL
    UNION ALL
    SELECT client_id, work_type, date_trunc('hour', decided_at), 0, 0, 0, 0, 0,
           (outcome = 'accepted')::int, (outcome = 'overturned')::int,
           (outcome = 'rejected')::int, fields_judged, fields_correct
    FROM task_fact
    UNION ALL
    SELECT client_id, work_type, date_trunc('hour', completed_at), 0, 0, 0,
           (completed_at <= due_at)::int, (completed_at > due_at)::int, 0, 0, 0, 0, 0
    FROM job_fact WHERE completed_at IS NOT NULL
"""
# In hour order, as the consumers append them while time passes (the heap follows the hour).
ROLLUPS = [
    f"""INSERT INTO hourly_rollup (client_id, work_type, hour, {", ".join(HOURLY)})
        SELECT s.client_id, s.work_type, s.hour,
               {", ".join(f"sum(s.c{n})" for n in range(len(HOURLY)))}
        FROM ({_HOURLY_SOURCES}) AS s(client_id, work_type, hour,
              {", ".join(f"c{n}" for n in range(len(HOURLY)))})
        GROUP BY 1, 2, 3 ORDER BY 3""",  # noqa: S608
    # The same bins as bpo_reporting.domain.turnaround.turnaround_bin.
    """INSERT INTO turnaround_rollup (client_id, work_type, hour, bin, items)
       SELECT client_id, work_type, date_trunc('hour', completed_at),
              least(floor(ln(greatest(turnaround_s, 1)) / ln(2) * 8), 240), count(*)
       FROM item_fact WHERE turnaround_s IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 3""",
    """INSERT INTO contractor_rollup (contractor_id, hour, tasks_submitted, submit_seconds,
           entries_accepted, entries_overturned, entries_rejected, fields_judged, fields_correct)
       SELECT contractor_id, date_trunc('hour', submitted_at), count(*),
              sum(extract(epoch FROM submitted_at - claimed_at)),
              count(*) FILTER (WHERE outcome = 'accepted'),
              count(*) FILTER (WHERE outcome = 'overturned'),
              count(*) FILTER (WHERE outcome = 'rejected'),
              sum(fields_judged), sum(fields_correct)
       FROM task_fact GROUP BY 1, 2 ORDER BY 2""",
    """INSERT INTO money_rollup (client_id, work_type, hour, currency, revenue, contractor_cost)
       SELECT client_id, work_type, hour, 'EUR', sum(revenue), sum(cost)
       FROM (SELECT client_id, work_type, date_trunc('hour', completed_at) AS hour,
                    1.50 AS revenue, 0 AS cost
             FROM item_fact WHERE completed_at IS NOT NULL
             UNION ALL
             SELECT client_id, work_type, date_trunc('hour', decided_at), 0, 0.40
             FROM task_fact WHERE outcome <> 'rejected') AS money
       GROUP BY 1, 2, 3 ORDER BY 3""",
    """INSERT INTO contractor_earning_rollup (contractor_id, hour, currency, amount)
       SELECT contractor_id, date_trunc('hour', decided_at), 'EUR', 0.40 * count(*)
       FROM task_fact WHERE outcome <> 'rejected' GROUP BY 1, 2 ORDER BY 2""",
]


@dataclass(frozen=True)
class Loaded:
    tasks: int
    days: int
    copy_s: float
    rollup_s: float
    rows: Mapping[str, int]


async def load(dsn: str, tasks: int, per_day: float) -> Loaded:
    """Empty the read models and load a history of `tasks` task events."""
    history = History(tasks, per_day, datetime.now(UTC))
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"TRUNCATE {READ_MODELS}")
        await connection.execute("SET synchronous_commit = off")
        started = perf_counter()
        await connection.copy_to_table(
            "job_fact",
            source=_chunks(lambda start, end: history.job_rows(), 1),
            columns=["job_id", "client_id", "work_type", "due_at", "created_at", "closed_at",
                     "completed_at", "cancelled_at", "items_received", "items_completed",
                     "items_rejected"],
        )  # fmt: skip
        await connection.copy_to_table(
            "item_fact",
            source=_chunks(history.item_rows, history.items),
            columns=["item_id", "job_id", "client_id", "work_type", "golden", "received_at",
                     "first_claimed_at", "completed_at", "rejected_at", "turnaround_s"],
        )  # fmt: skip
        await connection.copy_to_table(
            "task_fact",
            source=_chunks(history.task_rows, history.tasks),
            columns=["task_id", "item_id", "job_id", "client_id", "contractor_id", "work_type",
                     "kind", "claimed_at", "submitted_at", "outcome", "fields_judged",
                     "fields_correct", "decided_at"],
        )  # fmt: skip
        copied = perf_counter()
        for statement in ROLLUPS:
            began = perf_counter()
            await connection.execute(statement)
            print(f"  {statement.split()[2]}: {perf_counter() - began:.1f} s", flush=True)
        await connection.execute("ANALYZE")
        rows = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in ("task_fact", "item_fact", "job_fact", "hourly_rollup",
                          "turnaround_rollup", "contractor_rollup", "money_rollup")
        }  # fmt: skip
        return Loaded(tasks, history.days, copied - started, perf_counter() - copied, rows)
    finally:
        await connection.close()


# The measurement


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def latencies(
    base_url: str, bench: FullStack, requests: int
) -> tuple[dict[str, Latency], dict[str, Any]]:
    now = datetime.now(UTC)
    queries = {
        "overview": ("/v1/reports/overview", {}),
        "throughput": (
            "/v1/reports/throughput",
            {"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat()},
        ),
    }
    results: dict[str, Latency] = {}
    bodies: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers=bench.headers(Role.MANAGER), timeout=60
    ) as http:
        for name, (path, params) in queries.items():
            for _ in range(max(requests // 10, 5)):  # warm-up: connection, plans, caches
                (await http.get(path, params=params)).raise_for_status()
            samples = []
            for _ in range(requests):
                started = perf_counter()
                response = await http.get(path, params=params)
                samples.append((perf_counter() - started) * 1000)
                response.raise_for_status()
            bodies[name] = response.json()
            results[name] = Latency(_percentile(samples, 0.5), _percentile(samples, 0.95))
    return results, bodies


async def measure(
    bench: FullStack, base_url: str, sizes: Sequence[int], requests: int
) -> list[tuple[Loaded, dict[str, Latency], dict[str, Any]]]:
    dsn = asyncpg_dsn(bench.urls.database_urls["reporting"])
    runs = []
    per_day = sizes[0] / SMALL_DAYS
    for size in sizes:
        loaded = await load(dsn, size, per_day)
        print(
            f"loaded {size:,} task events: COPY {loaded.copy_s:.1f} s, "
            f"rollups {loaded.rollup_s:.1f} s, rows {dict(loaded.rows)}",
            flush=True,
        )
        timings, bodies = await latencies(base_url, bench, requests)
        runs.append((loaded, timings, bodies))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000, help="task events, small history")
    parser.add_argument("--large", type=int, default=1_000_000, help="task events, large")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per query")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10,000 and 100,000")
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.requests = 10_000, 100_000, 50
    if min(args.small, args.large, args.requests) < 1:
        parser.error("sizes and --requests must be positive")
    load_start = os.getloadavg()[0]
    sizes = [args.small, args.large]
    both = measured(
        full_stack("reporting"),
        lambda bench: measure(bench, bench.url("reporting"), sizes, args.requests),
    )
    if both is None:
        return 130
    small, large = both
    (small_loaded, small_times, small_bodies) = small
    (large_loaded, large_times, large_bodies) = large
    rows = [
        ("history", f"{args.small / SMALL_DAYS:,.0f} task events a day, {CLIENTS} clients x "
                    f"{len(WORK_TYPES)} work types, {CONTRACTORS} contractors"),
        ("small: task events", f"{args.small:,} over {small_loaded.days:,} days  "
                               f"(COPY {small_loaded.copy_s:.1f} s, "
                               f"rollups {small_loaded.rollup_s:.1f} s)"),
        ("large: task events", f"{args.large:,} over {large_loaded.days:,} days  "
                               f"(COPY {large_loaded.copy_s:.1f} s, "
                               f"rollups {large_loaded.rollup_s:.1f} s)"),
        ("hourly rollup rows small / large",
         f"{small_loaded.rows['hourly_rollup']:,} / {large_loaded.rows['hourly_rollup']:,}"),
        ("measured requests per query", str(args.requests)),
    ]  # fmt: skip
    figures = []
    for name in ("overview", "throughput"):
        s, g = small_times[name], large_times[name]
        rows.append(
            (
                f"{name}: p95 small / large (ms)",
                f"{s.p95_ms:.1f} / {g.p95_ms:.1f}  (p50 {s.p50_ms:.1f} / {g.p50_ms:.1f})",
            )
        )
        rows.append((f"{name}: large / small p95", f"{g.p95_ms / s.p95_ms:.2f}  (target <= 1.5)"))
        figures.append(
            {
                "figure": f"{name} p95 latency, {args.large:,} vs {args.small:,} task events "
                "(ratio = small / large)",
                "product": round(g.p95_ms, 2),
                "baseline": round(s.p95_ms, 2),
                "unit": "ms",
                "ratio": round(s.p95_ms / g.p95_ms, 3),
                "target": TARGET_RATIO,
            }
        )
    rows += [
        ("overview items_received small / large",
         f"{small_bodies['overview']['items_received']:,} / "
         f"{large_bodies['overview']['items_received']:,}"),
    ]  # fmt: skip
    print_table("report queries", rows, load_start)
    notes = [
        f"{args.small:,} and {args.large:,} synthetic task events at the same rate a day "
        f"({small_loaded.days:,} and {large_loaded.days:,} days of history), facts loaded with "
        "COPY, rollups aggregated from them in SQL",
        "overview: last 30 days; throughput: last 7 days, hourly; one keep-alive connection",
    ]
    print(result_line("report_queries", figures, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
