"""Bulk intake: 100,000 items as NDJSON in one HTTP request, against a plain COPY baseline.

    .venv/bin/python bench/bulk_intake.py [--items 100000] [--runs 3] [--quick]

Starts its own durable PostgreSQL and NATS on free ports and the intake service (one uvicorn
worker, as `make run` starts it), creates a client and a single-keyed job, and streams the
items to POST /v1/jobs/{id}/items as NDJSON, generated while they are sent. The product
figure covers the whole request: parsing, checks, the items and their entry tasks stored
with COPY, the ItemsReceived events in the outbox, the commit.

The baseline, in the same run and database: the same rows parsed from the same NDJSON
lines and loaded into the same `item` table with asyncpg's copy_records_to_table, one
transaction per 1,000 rows; no tasks, events or checks. The two alternate `--runs` times
and the best of each is kept, as the machine's other load comes and goes. The ratio is
product / baseline (target >= 0.30). It exits 0 whatever the figures: it measures, it does
not judge. The last line of its output is the `RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from time import perf_counter
from uuid import UUID

import asyncpg
import httpx
from harness import FullStack, full_stack, print_table

from bpo_common.auth import Role
from bpo_common.db import asyncpg_dsn
from bpo_common.ids import new_id

TARGET_RATIO = 0.30
CHUNK_ROWS = 1000
JOB = {
    "work_type": "invoice",
    "fields": [
        {"name": "invoice_number", "type": "string"},
        {"name": "total", "type": "decimal"},
        {"name": "issued_on", "type": "date", "required": False},
    ],
    "qc": {"mode": "single"},
    "sla_hours": 24,
}


def ndjson_line(n: int) -> bytes:
    """Item n as one NDJSON line (about 100 bytes); every 20th is a golden item."""
    line = b'{"external_id":"scan-%07d","source":{"image":"s3://scans/%07d.png","page":%d}' % (
        n,
        n,
        n % 40 + 1,
    )
    if n % 20 == 0:
        line += b',"golden":{"invoice_number":"INV-%d","total":"%d.50"}' % (n, n % 997)
    return line + b"}\n"


def ndjson_chunks(count: int) -> Iterator[bytes]:
    for start in range(0, count, CHUNK_ROWS):
        yield b"".join(ndjson_line(n) for n in range(start, min(start + CHUNK_ROWS, count)))


async def new_job(http: httpx.AsyncClient, bench: FullStack) -> tuple[UUID, UUID, dict[str, str]]:
    """A new client and an open job of it: (client id, job id, the client's headers)."""
    client = await http.post(
        "/v1/clients", json={"name": f"Bench {new_id()}"}, headers=bench.headers(Role.MANAGER)
    )
    client.raise_for_status()
    client_id = UUID(client.json()["id"])
    headers = bench.headers(Role.CLIENT, client_id)
    job = await http.post("/v1/jobs", json=JOB, headers=headers)
    job.raise_for_status()
    return client_id, UUID(job.json()["id"]), headers


async def product(base_url: str, bench: FullStack, count: int) -> float:
    """Seconds for one POST of `count` NDJSON items, from the first byte sent to the answer."""
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as http:
        _, job_id, headers = await new_job(http, bench)

        async def body() -> AsyncIterator[bytes]:
            for chunk in ndjson_chunks(count):
                yield chunk

        started = perf_counter()
        response = await http.post(
            f"/v1/jobs/{job_id}/items",
            content=body(),
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
        elapsed = perf_counter() - started
        if response.status_code != 202 or response.json() != {"accepted": count}:
            raise RuntimeError(f"the append failed: {response.status_code} {response.text}")
        job = (await http.get(f"/v1/jobs/{job_id}", headers=headers)).json()
        if job["counts"]["total"] != count:
            raise RuntimeError(f"{job['counts']['total']} items stored, not {count}")
        return elapsed


async def baseline(base_url: str, bench: FullStack, count: int) -> tuple[float, float]:
    """Seconds to parse the same lines and COPY them into `item`, 1,000 rows a transaction;
    and of those, the seconds spent in the COPY transactions alone."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        client_id, job_id, _ = await new_job(http, bench)
    columns = ["id", "job_id", "client_id", "external_id", "status", "source", "golden"]
    columns += ["created_at"]
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["intake"]))
    try:
        started = perf_counter()
        copying = 0.0
        for chunk in ndjson_chunks(count):
            now = datetime.now(UTC)
            records = []
            for line in chunk.splitlines():
                item = json.loads(line)
                golden = item.get("golden")
                records.append(
                    (
                        new_id(),
                        job_id,
                        client_id,
                        item.get("external_id"),
                        "pending",
                        json.dumps(item["source"]),
                        json.dumps(golden) if golden is not None else None,
                        now,
                    )
                )
            copy_started = perf_counter()
            async with connection.transaction():
                await connection.copy_records_to_table("item", records=records, columns=columns)
            copying += perf_counter() - copy_started
        elapsed = perf_counter() - started
        stored = await connection.fetchval("SELECT count(*) FROM item WHERE job_id = $1", job_id)
    finally:
        await connection.close()
    if stored != count:
        raise RuntimeError(f"the baseline stored {stored} items, not {count}")
    return elapsed, copying


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each; best kept")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10,000 items, 1 run")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.items, arguments.runs = 10_000, 1
    load_start = os.getloadavg()[0]
    count = arguments.items
    product_s, baseline_s, copy_s = [], [], []
    with full_stack("intake") as bench:
        base_url = bench.url("intake")
        # Alternating, so that a burst of other load on the machine hits both sides.
        for _ in range(arguments.runs):
            product_s.append(asyncio.run(product(base_url, bench, count)))
            whole, copying = asyncio.run(baseline(base_url, bench, count))
            baseline_s.append(whole)
            copy_s.append(copying)
    product_rate, baseline_rate = count / min(product_s), count / min(baseline_s)
    ratio = product_rate / baseline_rate

    def seconds(runs: list[float]) -> str:
        return ", ".join(f"{run:.1f}" for run in runs) + " s"

    rows = [
        ("items per run", f"{count:,}"),
        ("runs (best of each kept)", str(arguments.runs)),
        ("product: NDJSON over HTTP, items/s", f"{product_rate:,.0f}  ({seconds(product_s)})"),
        (
            "baseline: COPY, 1,000 a transaction, items/s",
            f"{baseline_rate:,.0f}  ({seconds(baseline_s)})",
        ),
        ("ratio product / baseline", f"{ratio:.2f}  (target >= {TARGET_RATIO:.2f})"),
        ("(baseline's COPY transactions alone, items/s)", f"{count / min(copy_s):,.0f}"),
    ]
    print_table("bulk intake", rows, load_start)
    figure = {
        "figure": "bulk intake: NDJSON over HTTP vs COPY",
        "product": round(product_rate, 1),
        "baseline": round(baseline_rate, 1),
        "unit": "items/s",
        "ratio": round(ratio, 3),
        "target": TARGET_RATIO,
    }
    notes = [
        f"{count:,} items in one request, best of {arguments.runs}; baseline json.loads + COPY, "
        f"1,000 rows a transaction (its COPY alone: {count / min(copy_s):,.0f} items/s)"
    ]
    # The machine-readable last line every benchmark prints (see bench/README.md).
    http_load = "one streamed httpx POST of NDJSON from the benchmark process (not pinned)"
    result = {"name": "bulk_intake", "figures": [figure], "notes": notes, "http_load": http_load}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
