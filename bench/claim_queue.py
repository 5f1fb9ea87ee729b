"""Claims right after a bulk append, and for a contractor with a long history.

    .venv/bin/python bench/claim_queue.py [--history 200000] [--append 100000] [--claims 200]
        [--quick]

Starts intake (harness.full_stack). Seeds a history straight into intake's database: one
job whose `--history` tasks were all keyed by one contractor (the veteran), then ANALYZE, so
that the table is settled and its statistics say the queue is empty. A client then appends
`--append` items to a new job in one NDJSON request, and right after it:

- **claims after an append**: a fresh contractor claims one task and releases it, `--claims`
  times, through the API; p50 of the claim. Baseline, in the same run: the same claims after
  VACUUM ANALYZE of the task and item tables (the statistics autovacuum gives in the end). Ratio =
  baseline / product (target >= 0.5: no planner cliff right after a large append).
- **claims and history**: the same claims by the veteran, whose keyed items are all final
  (product), against a fresh contractor (baseline). Ratio = baseline / product (target >=
  0.8: a claim's cost does not grow with the claimer's history).
- **a reviewer's claim behind the backlog**: one review task queued after the appended first
  keyings; a contractor with the qc skill claims reviews and adjudications (and releases),
  `--claims` times (product), against the fresh contractor's claims after VACUUM ANALYZE
  above (baseline). Ratio = baseline / product (target >= 0.8: a claim of one kind does not
  step over the queued tasks of another).

The last line is the RESULT of bench/README.md.
"""

import argparse
import asyncio
import json
import statistics
from collections.abc import Iterator
from time import perf_counter
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from harness import FullStack, full_stack

from bpo_cli.signing import Signer
from bpo_common.auth import Role
from bpo_common.db import asyncpg_dsn
from bpo_common.ids import new_id

AFTER_APPEND_TARGET = 0.5
HISTORY_TARGET = 0.8
KIND_TARGET = 0.8
JOB = {
    "work_type": "bench",
    "fields": [{"name": "value", "type": "string"}],
    "qc": {"mode": "single"},
}


async def _seed_history(bench: FullStack, tasks: int) -> UUID:
    """The veteran's id, once a finished job with `tasks` tasks all keyed by them is stored
    and the task table analyzed."""
    client, job, veteran = new_id(), new_id(), new_id()
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["intake"]))
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO client (id, name, webhook_secret, created_at) "
                "VALUES ($1, 'history', 'x', now())",
                client,
            )
            await connection.execute(
                "INSERT INTO job (id, client_id, status, work_type, fields, rules, qc, priority, "
                "required_skills, created_at) VALUES ($1, $2, 'completed', 'bench', '[]', '[]', "
                "'{\"mode\": \"single\"}', 50, '[]', now())",
                job,
                client,
            )
            await connection.execute(
                "INSERT INTO contractor (id, name, skills, status, created_at) "
                "VALUES ($1, 'veteran', '[]', 'active', now())",
                veteran,
            )
            await connection.execute(
                "INSERT INTO item (id, job_id, client_id, status, source, created_at) "
                "SELECT gen_random_uuid(), $1, $2, 'completed', '{}', now() "
                "FROM generate_series(1, $3)",
                job,
                client,
                tasks,
            )
            await connection.execute(
                "INSERT INTO task (id, job_id, item_id, client_id, kind, status, "
                "required_skills, priority, attempts, submitted_by, submitted_at, created_at) "
                "SELECT gen_random_uuid(), $1, id, $2, 'entry', 'submitted', '[]', 50, 0, $3, "
                "now(), now() FROM item WHERE job_id = $1",
                job,
                client,
                veteran,
            )
        await connection.execute("VACUUM ANALYZE task")
    finally:
        await connection.close()
    return veteran


def _lines(count: int) -> Iterator[bytes]:
    for start in range(0, count, 1000):
        yield b"".join(b'{"source":{"n":%d}}\n' % n for n in range(start, min(start + 1000, count)))


async def _append(http: httpx.AsyncClient, bench: FullStack, count: int) -> None:
    client = await http.post(
        "/v1/clients", json={"name": "bench"}, headers=bench.headers(Role.MANAGER)
    )
    headers = bench.headers(Role.CLIENT, UUID(client.json()["id"]))
    job = await http.post("/v1/jobs", json=JOB, headers=headers)
    response = await http.post(
        f"/v1/jobs/{job.json()['id']}/items",
        content=b"".join(_lines(count)),
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    if response.json() != {"accepted": count}:
        raise RuntimeError(f"the append failed: {response.status_code} {response.text}")


async def _contractor(http: httpx.AsyncClient, bench: FullStack, *skills: str) -> UUID:
    created = await http.post(
        "/v1/contractors",
        json={"name": "fresh", "skills": list(skills)},
        headers=bench.headers(Role.MANAGER),
    )
    return UUID(created.json()["id"])


async def _claims_p50(
    http: httpx.AsyncClient, bench: FullStack, contractor: UUID, n: int, **body: Any
) -> float:
    """p50 seconds of a one-task claim (each task given back, so the queue stays as it is)."""
    headers = Signer(bench.private_key_pem).headers(Role.CONTRACTOR, str(contractor))
    times = []
    for _ in range(n):
        started = perf_counter()
        claimed = await http.post("/v1/tasks/claim", json={"limit": 1, **body}, headers=headers)
        times.append(perf_counter() - started)
        claimed.raise_for_status()
        (task,) = claimed.json()["tasks"]
        await http.post(f"/v1/tasks/{task['id']}/release", headers=headers)
    return statistics.median(times)


async def _vacuum_analyze(bench: FullStack) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["intake"]))
    try:
        await connection.execute("VACUUM ANALYZE task, item")
    finally:
        await connection.close()


async def _queue_a_review(bench: FullStack) -> None:
    """A review of the last appended item, queued after every first keying."""
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["intake"]))
    try:
        await connection.execute(
            "INSERT INTO task (id, job_id, item_id, client_id, kind, status, required_skills, "
            "priority, attempts, entries, created_at) "
            "SELECT $1, job_id, item_id, client_id, 'review', 'queued', '[\"qc\"]', priority, 0, "
            "'[]', now() FROM task WHERE status = 'queued' ORDER BY id DESC LIMIT 1",
            new_id(),
        )
    finally:
        await connection.close()


async def measure(bench: FullStack, history: int, append: int, claims: int) -> dict[str, float]:
    veteran = await _seed_history(bench, history)
    async with httpx.AsyncClient(base_url=bench.url("intake"), timeout=600) as http:
        fresh = await _contractor(http, bench)
        await _append(http, bench, append)
        after_append = await _claims_p50(http, bench, fresh, claims)
        await _vacuum_analyze(bench)
        settled = await _claims_p50(http, bench, fresh, claims)
        veteran_p50 = await _claims_p50(http, bench, veteran, claims)
        fresh_p50 = await _claims_p50(http, bench, fresh, claims)
        await _queue_a_review(bench)
        reviewer = await _contractor(http, bench, "qc")
        review_p50 = await _claims_p50(
            http, bench, reviewer, claims, kinds=["review", "adjudication"]
        )
    return {"after_append": after_append, "settled": settled, "veteran": veteran_p50,
            "fresh": fresh_p50, "review": review_p50}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--append", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20,000 / 10,000 / 50")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.history, arguments.append, arguments.claims = 20_000, 10_000, 50
    with full_stack("intake") as bench:
        p50 = asyncio.run(measure(bench, arguments.history, arguments.append, arguments.claims))
    ms = {name: seconds * 1000 for name, seconds in p50.items()}
    print(
        f"claim p50 right after a {arguments.append:,}-item append   {ms['after_append']:7.2f} ms"
    )
    print(f"claim p50 after VACUUM ANALYZE                    {ms['settled']:7.2f} ms")
    print(f"claim p50, veteran of {arguments.history:,} tasks            {ms['veteran']:7.2f} ms")
    print(f"claim p50, fresh contractor                       {ms['fresh']:7.2f} ms")
    print(f"review claim p50 behind the appended first keyings {ms['review']:6.2f} ms")
    figures = [
        {
            "figure": figure,
            "product": round(ms[product], 2),
            "baseline": round(ms[baseline], 2),
            "unit": "ms",
            "ratio": round(ms[baseline] / ms[product], 3),
            "target": target,
        }
        for figure, product, baseline, target in (
            (
                "claim p50 right after a bulk append vs after VACUUM ANALYZE "
                "(ratio = settled / after)",
                "after_append",
                "settled",
                AFTER_APPEND_TARGET,
            ),
            (
                "claim p50 by a contractor with a long history vs a fresh one "
                "(ratio = fresh / veteran)",
                "veteran",
                "fresh",
                HISTORY_TARGET,
            ),
            (
                "review claim p50 behind a backlog of first keyings vs a keyer's claim "
                "(ratio = keyer's / reviewer's)",
                "review",
                "settled",
                KIND_TARGET,
            ),
        )
    ]
    notes = [
        f"history of {arguments.history:,} keyed tasks seeded with SQL and analyzed; "
        f"{arguments.append:,} items appended in one NDJSON request; {arguments.claims} "
        "one-task claims (each released) per p50; the reviewer's claims ask for reviews and "
        "adjudications, one review queued after the appended items"
    ]
    result = {"name": "claim_queue", "figures": figures, "notes": notes,
              "http_load": "sequential httpx requests from the benchmark process"}  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
