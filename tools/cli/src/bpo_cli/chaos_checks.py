"""The invariants a chaos run proves once the system is quiet, each read from where it lives:
the services' own databases, their HTTP APIs, the event stream and the client's history."""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from bpo_cli.simulation import Claim, Outcome
from bpo_common.db import asyncpg_dsn
from bpo_common.messaging import connect, replay
from bpo_common.settings import SERVICES
from bpo_devtools.servers import StackUrls
from bpo_devtools.testing import consumer_drained

QUIET_WITHIN_S = 180.0
FINAL_SUBJECTS = ["bpo.intake.item.completed", "bpo.intake.item.rejected"]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    found: str


@dataclass(frozen=True)
class Expected:
    job_id: UUID
    client_id: UUID
    items: int
    billable: int
    unit_price: Decimal
    tax_rate: Decimal
    lease_seconds: int


def _check(name: str, passed: bool, found: str) -> Check:
    return Check(name, passed, found)


async def _scalar(urls: StackUrls, service: str, query: str, *args: Any) -> Any:
    connection = await asyncpg.connect(asyncpg_dsn(urls.database_urls[service]))
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def _unsent(urls: StackUrls) -> dict[str, int]:
    query = "SELECT count(*) FROM outbox_event WHERE sent_at IS NULL"
    return {service: await _scalar(urls, service, query) for service in SERVICES}


async def wait_until_quiet(urls: StackUrls) -> None:
    """Every outbox relayed and every consumer with nothing left to deliver or to ack."""
    deadline = asyncio.get_running_loop().time() + QUIET_WITHIN_S
    nc = await connect(urls.nats_url, name="chaos-checks")
    try:
        js = nc.jetstream()
        while True:
            drained = [await consumer_drained(js, service) for service in SERVICES]
            if all(drained) and not any((await _unsent(urls)).values()):
                return
            if asyncio.get_running_loop().time() > deadline:
                return  # the checks below say what is left
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def final_events_per_item(urls: StackUrls, job_id: UUID) -> Counter[str]:
    """How many item.completed or item.rejected events the stream holds for each item."""
    nc = await connect(urls.nats_url, name="chaos-stream")
    counts: Counter[str] = Counter()
    try:
        async for envelope in replay(nc.jetstream(), FINAL_SUBJECTS, wait_s=2):
            if envelope.data["job_id"] == str(job_id):
                counts[envelope.data["item_id"]] += 1
    finally:
        await nc.close()
    return counts


def overlapping_leases(claims: Sequence[Claim], lease_seconds: int) -> list[str]:
    """Tasks two contractors held at once: a lease that began before the lease before it
    (on the same task, by someone else) ended."""
    by_task: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_task[claim.task_id].append(claim)
    overlaps = []
    for task_id, held in by_task.items():
        held.sort(key=lambda claim: claim.lease_expires_at)
        for before, after in pairwise(held):
            began = after.lease_expires_at - timedelta(seconds=lease_seconds)
            ended = min(before.lease_expires_at, before.ended_at or before.lease_expires_at)
            if before.contractor != after.contractor and began < ended:
                overlaps.append(task_id)
    return overlaps


async def check_everything(
    http: httpx.AsyncClient,
    urls: StackUrls,
    url: Callable[[str], str],
    manager: dict[str, str],
    expected: Expected,
    outcome: Outcome,
    claims: Sequence[Claim],
) -> list[Check]:
    await wait_until_quiet(urls)
    job_id, client_id = expected.job_id, expected.client_id
    checks = []

    job = (await http.get(f"{url('intake')}/v1/jobs/{job_id}", headers=manager)).json()
    counts = job["counts"]
    checks.append(_check("the job completed", job["status"] == "completed", job["status"]))
    final = counts["completed"] + counts["rejected"]
    events = await final_events_per_item(urls, job_id)
    twice = sum(1 for n in events.values() if n > 1)
    checks.append(_check(
        "every item completed or rejected, exactly once",
        final == counts["total"] == expected.items == len(events) and twice == 0,
        f"{final:,} of {counts['total']:,} final ({expected.items:,} pushed); "
        f"{len(events):,} items with a final event, {twice} with more than one",
    ))  # fmt: skip
    checks.append(_check(
        "completed items carry the true values",
        outcome.exactly_right == outcome.scored_items == expected.billable - counts["rejected"],
        f"{outcome.exactly_right:,} of {outcome.scored_items:,} exactly right",
    ))  # fmt: skip
    flagged = (await http.get(f"{url('intake')}/v1/items/flagged", headers=manager)).json()
    checks.append(_check(
        "no item silently stuck", not flagged["data"], f"{len(flagged['data'])} still flagged"
    ))  # fmt: skip

    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    overview = (
        await http.get(
            f"{url('reporting')}/v1/reports/overview",
            params={"client_id": str(client_id), "from": since},
            headers=manager,
        )
    ).json()
    seen = (overview["items_received"], overview["items_completed"], overview["items_rejected"])
    known = (counts["total"], counts["completed"], counts["rejected"])
    checks.append(_check(
        "intake's counts equal reporting's", seen == known,
        f"intake {known}, reporting {seen} (received, completed, rejected)",
    ))  # fmt: skip

    usage = await _scalar(
        urls, "billing",
        "SELECT count(*) FROM usage_line WHERE job_id = $1 AND amount IS NOT NULL", job_id,
    )  # fmt: skip
    billable = await _scalar(
        urls, "intake",
        "SELECT count(*) FROM item WHERE job_id = $1 AND status = 'completed' AND golden IS NULL",
        job_id,
    )  # fmt: skip
    checks.append(_check(
        "usage lines equal billable items (control items free)", usage == billable,
        f"{usage:,} priced usage lines, {billable:,} completed items that are not controls",
    ))  # fmt: skip
    today = datetime.now(UTC).date()
    draft = await http.post(
        f"{url('billing')}/v1/invoices",
        json={"client_id": str(client_id), "period_start": str(today - timedelta(days=1)),
              "period_end": str(today)},
        headers=manager,
    )  # fmt: skip
    total = Decimal(draft.json()["total"]) if draft.status_code in (200, 201) else None
    owed = (billable * expected.unit_price * (1 + expected.tax_rate)).quantize(Decimal("0.01"))
    checks.append(_check(
        "the invoice draft total is count x price x (1 + tax), exactly", total == owed,
        f"{total} EUR drafted, {owed} EUR owed ({billable:,} x {expected.unit_price} x "
        f"{1 + expected.tax_rate})",
    ))  # fmt: skip

    earnings = await _scalar(urls, "billing", "SELECT count(*) FROM earning WHERE job_id = $1",
                             job_id)  # fmt: skip
    tasks = await _scalar(
        urls, "intake",
        "SELECT count(*) FROM task WHERE job_id = $1 AND status = 'submitted'", job_id,
    )  # fmt: skip
    checks.append(_check(
        "earnings lines equal accepted tasks", earnings == tasks,
        f"{earnings:,} earnings, {tasks:,} submitted tasks",
    ))  # fmt: skip

    dead = {s: await _scalar(urls, s, "SELECT count(*) FROM dead_letter") for s in SERVICES}
    checks.append(_check("no dead letters", not any(dead.values()), _per_service(dead)))
    unsent = await _unsent(urls)
    checks.append(_check("no unsent outbox rows", not any(unsent.values()), _per_service(unsent)))
    overlaps = overlapping_leases(claims, expected.lease_seconds)
    checks.append(_check(
        "no task held by two contractors at once", not overlaps,
        f"{len(claims):,} claims, {len(overlaps)} overlapping",
    ))  # fmt: skip
    return checks


def _per_service(counts: dict[str, int]) -> str:
    return ", ".join(f"{service} {count}" for service, count in counts.items())
