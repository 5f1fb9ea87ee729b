"""Invoice draft: one client with 1,000,000 usage lines, drafted in one POST /v1/invoices.

    .venv/bin/python bench/invoice_draft.py [--lines 1000000] [--jobs 200]

Starts its own durable PostgreSQL and NATS on free ports and the billing service (one
uvicorn worker, as `make run` starts it), gives a client a price book through the API, and
loads the client's usage lines (priced, unbilled, in one month, over `--jobs` jobs and two
work types) with COPY, then VACUUM ANALYZE and a CHECKPOINT. The product figure is one
POST /v1/invoices for that month: the lines claimed with one UPDATE and aggregated by job,
work type and price in the same statement, the invoice and its lines stored, the answer.
The service's peak memory (VmHWM of its process) shows that the lines never travel to
Python.

The baseline, in the same run and database: the bare SQL aggregate over the same rows
(SELECT job_id, work_type, amount, count(*), sum(amount) ... GROUP BY) through asyncpg,
best of three. The ratio is baseline / product: the share of the draft's time the bare
aggregate alone would take. Also printed: the claiming statement alone (the UPDATE ...
RETURNING feeding the GROUP BY) through asyncpg, rolled back (then VACUUM and CHECKPOINT
again), which is what marking the lines billed costs on top of the aggregate: the product
can be no faster than that. It exits 0 whatever the figures.
"""

import argparse
import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from harness import FullStack, full_stack, print_table

from bpo_common.auth import Role
from bpo_common.db import asyncpg_dsn
from bpo_common.ids import new_id

CHUNK_ROWS = 100_000
MONTH = date(2026, 3, 1)
PERIOD = {"period_start": "2026-03-01", "period_end": "2026-03-31"}
PRICE_BOOK = {
    "currency": "EUR",
    "tax_rate": "0.21",
    "rates": {
        "invoice": {"per_item": "0.50", "per_field": "0.01"},
        "receipt": {"per_item": "0.25", "per_field": "0.005"},
    },
    "effective_from": "2026-01-01",
}
# What the price book makes of an item of each work type, with 3 fields, with and without
# a 25% rush surcharge: four price points, so a job's lines form one or two groups.
PRICES = {
    "invoice": (Decimal("0.53"), Decimal("0.6625")),
    "receipt": (Decimal("0.265"), Decimal("0.33125")),
}
AGGREGATE = """
SELECT job_id, work_type, amount, count(*) AS quantity, sum(amount) AS exact_sum
FROM usage_line
WHERE client_id = $1 AND invoice_id IS NULL AND amount IS NOT NULL AND completed_at < $2
GROUP BY job_id, work_type, amount
"""
CLAIM = """
WITH claimed AS (
  UPDATE usage_line SET invoice_id = $3
  WHERE client_id = $1 AND invoice_id IS NULL AND amount IS NOT NULL AND completed_at < $2
  RETURNING job_id, work_type, amount
)
SELECT job_id, work_type, amount, count(*) AS quantity, sum(amount) AS exact_sum
FROM claimed GROUP BY job_id, work_type, amount
"""


async def settle(bench: FullStack) -> None:
    """VACUUM ANALYZE the lines (what autovacuum does a minute later) and CHECKPOINT, so that
    each measured statement starts from the same state and pays for no earlier one's writes."""
    connection = await asyncpg.connect(bench.admin_dsn("bpo_billing"))
    try:
        await connection.execute("VACUUM ANALYZE usage_line")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def memory_kib(pid: int, field: str) -> int:
    """A VmHWM (peak resident) or VmRSS line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def usage_records(
    client_id: UUID, book_id: UUID, jobs: list[tuple[UUID, str, bool]], count: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The client's usage lines in chunks: priced, unbilled, spread over March."""
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=UTC)
    spacing = timedelta(days=30) / count
    for first in range(0, count, CHUNK_ROWS):
        now = datetime.now(UTC)
        chunk = []
        for n in range(first, min(first + CHUNK_ROWS, count)):
            job_id, work_type, rushed = jobs[n % len(jobs)]
            amount = PRICES[work_type][int(rushed)]
            chunk.append(
                (new_id(), new_id(), job_id, client_id, work_type, 3, start + spacing * n,
                 book_id, amount, Decimal("0.01"), Decimal(25 if rushed else 0), amount, "EUR",
                 now, now)
            )  # fmt: skip
        yield chunk


async def load(bench: FullStack, base_url: str, lines: int, job_count: int) -> UUID:
    """A client with a price book (through the API) and its jobs and usage lines (COPY)."""
    client_id = new_id()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.put(
            f"/v1/price-books/{client_id}", json=PRICE_BOOK, headers=bench.headers(Role.MANAGER)
        )
        response.raise_for_status()
        book_id = UUID(response.json()["id"])
    # Every 10th job is a rush job; within a job all items cost the same.
    jobs = [(new_id(), ("invoice", "receipt")[n % 2], n % 10 == 0) for n in range(job_count)]
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["billing"]))
    try:
        created = datetime(MONTH.year, MONTH.month, 1, tzinfo=UTC)
        await connection.copy_records_to_table(
            "billable_job",
            records=[
                (
                    job_id,
                    client_id,
                    work_type,
                    None,
                    Decimal(4 if rushed else 48),
                    f"batch-{n}",
                    created,
                    created,
                )
                for n, (job_id, work_type, rushed) in enumerate(jobs)
            ],
            columns=[
                "job_id",
                "client_id",
                "work_type",
                "due_at",
                "sla_hours",
                "external_ref",
                "created_at",
                "received_at",
            ],
        )
        columns = ["id", "item_id", "job_id", "client_id", "work_type", "fields", "completed_at",
                   "price_book_id", "unit_price", "field_price", "rush_pct", "amount",
                   "currency", "recorded_at", "priced_at"]  # fmt: skip
        for chunk in usage_records(client_id, book_id, jobs, lines):
            async with connection.transaction():
                await connection.copy_records_to_table("usage_line", records=chunk, columns=columns)
    finally:
        await connection.close()
    await settle(bench)
    return client_id


async def baseline(bench: FullStack, client_id: UUID, runs: int = 3) -> tuple[float, int, int]:
    """Best seconds of the bare aggregate, its groups and the lines it counted."""
    until = datetime(2026, 4, 1, tzinfo=UTC)
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["billing"]))
    try:
        times, rows = [], []
        for _ in range(runs):
            started = perf_counter()
            rows = await connection.fetch(AGGREGATE, client_id, until)
            times.append(perf_counter() - started)
    finally:
        await connection.close()
    return min(times), len(rows), sum(row["quantity"] for row in rows)


async def claim_alone(bench: FullStack, client_id: UUID) -> float:
    """Seconds of the claiming statement through asyncpg, rolled back (lines stay unbilled),
    then the rolled-back versions cleared away."""
    until = datetime(2026, 4, 1, tzinfo=UTC)
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["billing"]))
    try:
        transaction = connection.transaction()
        await transaction.start()
        started = perf_counter()
        await connection.fetch(CLAIM, client_id, until, new_id())
        elapsed = perf_counter() - started
        await transaction.rollback()
    finally:
        await connection.close()
    await settle(bench)
    return elapsed


async def product(bench: FullStack, client_id: UUID, lines: int) -> float:
    """Seconds for one POST /v1/invoices, from the request to the answer."""
    async with httpx.AsyncClient(base_url=bench.url("billing"), timeout=900) as http:
        started = perf_counter()
        response = await http.post(
            "/v1/invoices",
            json={"client_id": str(client_id), **PERIOD},
            headers=bench.headers(Role.MANAGER),
        )
        elapsed = perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"the draft failed: {response.status_code} {response.text[:500]}")
    invoice = response.json()
    billed = sum(line["quantity"] for line in invoice["lines"] if line["kind"] == "usage")
    if billed != lines:
        raise RuntimeError(f"the draft billed {billed} lines, not {lines}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100,000 lines")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.lines = 100_000
    count = arguments.lines
    load_start = os.getloadavg()[0]
    with full_stack("billing") as bench:
        pid = bench.pids()["billing"]
        started = perf_counter()
        client_id = asyncio.run(load(bench, bench.url("billing"), count, arguments.jobs))
        load_s = perf_counter() - started
        baseline_s, groups, counted = asyncio.run(baseline(bench, client_id))
        if counted != count:
            raise RuntimeError(f"the baseline counted {counted} lines, not {count}")
        claim_s = asyncio.run(claim_alone(bench, client_id))
        rss_before = memory_kib(pid, "VmRSS")
        peak_before = memory_kib(pid, "VmHWM")
        product_s = asyncio.run(product(bench, client_id, count))
        peak_after = memory_kib(pid, "VmHWM")

    mib = 1024
    rows = [
        ("usage lines of the client", f"{count:,} over {arguments.jobs} jobs, {groups} groups"),
        ("loading them (COPY, VACUUM ANALYZE, CHECKPOINT)", f"{load_s:.1f} s"),
        ("product: POST /v1/invoices (draft)", f"{product_s:.2f} s"),
        ("  lines/s", f"{count / product_s:,.0f}"),
        ("baseline: bare SQL aggregate, best of 3", f"{baseline_s:.2f} s"),
        ("  lines/s", f"{count / baseline_s:,.0f}"),
        ("ratio baseline / product", f"{baseline_s / product_s:.2f}"),
        ("(the claiming UPDATE + GROUP BY alone, asyncpg)", f"{claim_s:.2f} s"),
        ("service RSS before the draft", f"{rss_before / mib:.0f} MiB"),
        ("service peak RSS (VmHWM) before the draft", f"{peak_before / mib:.0f} MiB"),
        ("service peak RSS (VmHWM) after the draft", f"{peak_after / mib:.0f} MiB"),
    ]
    print_table("invoice draft", rows, load_start)
    figures = [
        {
            "figure": f"invoice draft of {count:,} usage lines vs the bare SQL aggregate "
            "(ratio = baseline / product)",
            "product": round(product_s, 2),
            "baseline": round(baseline_s, 2),
            "unit": "s",
            "ratio": round(baseline_s / product_s, 3),
            "target": None,
        },
        {
            "figure": "billing service peak RSS after the draft (informational)",
            "product": round(peak_after / mib),
            "baseline": round(peak_before / mib),
            "unit": "MiB (baseline: before the draft)",
            "ratio": None,
            "target": None,
        },
    ]
    notes = [
        f"{count:,} unbilled lines of one client over {arguments.jobs} jobs; the claiming "
        f"UPDATE + GROUP BY alone through asyncpg: {claim_s:.2f} s (the floor for the draft)"
    ]
    # The machine-readable last line every benchmark prints (see bench/README.md).
    print("RESULT " + json.dumps({"name": "invoice_draft", "figures": figures, "notes": notes}))


if __name__ == "__main__":
    main()
