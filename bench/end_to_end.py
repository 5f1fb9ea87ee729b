"""End to end: items per second from push to completed, invoiced and reported, against claim
and submit alone; and the latency from a submit to its item completed.

    .venv/bin/python bench/end_to_end.py [--items 3000] [--keyers 16] [--mode double] [--quick]

Starts the whole product (bench/harness.py). The product run pushes a job (single-keyed, or
double-keyed with `--mode double`) of `--items` invoices and lets `--keyers` simulated
contractors (bpo_cli.simulation, in this process) claim and submit through the HTTP API; it
ends when the job is completed, reporting shows every item completed and billing has priced
every billable item and drafted the client's invoice. The baseline, in the same run:
validation, billing and reporting stopped, the same keyers claim and submit a job of the
same size, and the clock stops at the last submit. Between the two, two steady runs of a
quarter as many items, the crew paced to 50 % and 80 % of the submits per second the
product reached, give the latency when the pipeline is not saturated (targets: p99 <= 0.3 s
and <= 1 s), and, for information, from each item's last submit to its usage line priced in
billing (usage_line.priced_at) and to reporting counting it completed (the commit time of
the transaction that recorded reporting's inbox row for its ItemCompleted and counted it).
Ratio = product items/s / baseline items/s (target >= 0.80: the asynchronous pipeline keeps
up with the contractors). Latency: from each item's last submit to its completed_at, p50
and p99 (target p99 < 1 s). SQL statements per item: what pg_stat_statements counts over the
four databases during the product run (target <= 15). The last line is the RESULT of
bench/README.md.
"""

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from harness import FullStack, full_stack, stack_cpu

from bpo_cli import demo
from bpo_cli.signing import Signer
from bpo_cli.simulation import Endpoints, Keyer, Outcome, Simulation
from bpo_common.auth import Role
from bpo_common.contracts.intake import ItemCompleted

TARGET_RATIO = 0.80
TARGET_P99_S = 1.0
TARGET_STATEMENTS = 15
# Fractions of the product's own rate for the steady runs, and their p99 targets (s).
LOADS = {0.5: 0.3, 0.8: 1.0}
# The ItemCompleted events intake published for a job: event id, item id, control item or not.
COMPLETED = """
    SELECT id, data ->> 'item_id' AS item_id, (data ->> 'golden')::boolean AS golden
    FROM outbox_event, jsonb_extract_path(convert_from(payload, 'UTF8')::jsonb, 'data') AS data
    WHERE subject = $1 AND data ->> 'job_id' = $2
"""


@dataclass(frozen=True)
class Product:
    outcome: Outcome
    seconds: float  # until invoiced and reported
    cpu: dict[str, float]  # CPU seconds each process spent on it
    statements: int  # SQL statements over the four databases


async def product(stack: FullStack, items: int, keyers: list[Keyer], mode: str) -> Product:
    """The whole pipeline, pushed, keyed, invoiced and reported."""
    signer = Signer(stack.private_key_pem)
    manager = signer.headers(Role.MANAGER, "bench")
    async with httpx.AsyncClient(timeout=120) as http:
        simulation = Simulation(http, Endpoints(stack.url("intake"), signer))
        client_id = await simulation.client("End-to-end bench")
        await demo.set_prices(http, client_id, manager)
        await stack.statements(reset=True)
        started, clock, cpu = datetime.now(UTC), time.perf_counter(), stack_cpu(stack)
        outcome = await simulation.run(client_id, items=items, keyers=keyers, mode=mode)
        overview, invoice = await demo.caught_up(http, outcome, started, manager)
        seconds = time.perf_counter() - clock
        spent = {name: used - cpu.get(name, 0.0) for name, used in stack_cpu(stack).items()}
        statements = await stack.statements()
    if overview["items_completed"] != items:
        raise RuntimeError(f"reporting shows {overview['items_completed']} of {items} items")
    billed = sum(line["quantity"] for line in invoice["lines"])
    if billed != items - outcome.golden:
        raise RuntimeError(f"the invoice bills {billed} items, not {items - outcome.golden}")
    return Product(outcome, seconds, spent, statements)


@dataclass(frozen=True)
class Steady:
    outcome: Outcome
    priced: list[float]  # seconds from each billable item's last submit to its line priced
    counted: list[float]  # seconds from each item's last submit to reporting counting it


def quantile(latencies: Sequence[float], q: float) -> float:
    """As Outcome.latency does it; 0.0 for none."""
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def steady(
    stack: FullStack, items: int, keyers: list[Keyer], mode: str, submits_per_second: float
) -> Steady:
    """A job keyed by the crew paced to a fixed rate of submits, well below what it could do:
    the latency of the pipeline when it is not saturated, to completed, priced and counted."""
    signer = Signer(stack.private_key_pem)
    async with httpx.AsyncClient(timeout=120) as http:
        simulation = Simulation(http, Endpoints(stack.url("intake"), signer))
        client_id = await simulation.client(f"Steady load bench {submits_per_second:.0f}/s")
        await demo.set_prices(http, client_id, signer.headers(Role.MANAGER, "bench"))
        outcome = await simulation.run(
            client_id, items=items, keyers=keyers, mode=mode, submits_per_second=submits_per_second
        )
    return await downstream(stack, simulation, outcome)


async def downstream(stack: FullStack, simulation: Simulation, outcome: Outcome) -> Steady:
    """The latencies to billing and reporting, read from their databases once they have
    priced and counted every item the job completed."""
    tasks = await stack.fetch(
        "bpo_intake", "SELECT id, item_id FROM task WHERE job_id = $1", outcome.job_id
    )
    item_of = {str(row["id"]): str(row["item_id"]) for row in tasks}
    # Each item's last submit, as the simulation saw it (its Outcome.latency takes the same).
    submitted = {
        item_of[claim.task_id]: claim.ended_at.timestamp()
        for claim in simulation.claims
        if claim.ended_at
    }
    events = await stack.fetch(
        "bpo_intake", COMPLETED, ItemCompleted.event_type, str(outcome.job_id)
    )
    item_of_event = {row["id"]: row["item_id"] for row in events}
    billable = sum(not row["golden"] for row in events)
    deadline = time.monotonic() + 120
    while True:
        priced = await stack.fetch(
            "bpo_billing",
            "SELECT item_id, priced_at FROM usage_line WHERE job_id = $1 AND priced_at IS NOT NULL",
            outcome.job_id,
        )
        counted = await stack.fetch(
            "bpo_reporting",
            "SELECT event_id, pg_xact_commit_timestamp(xmin) AS counted_at FROM inbox_event"
            " WHERE event_id = ANY($1::uuid[])",
            list(item_of_event),
        )
        if len(priced) == billable and len(counted) == len(events):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"billing priced {len(priced)} of {billable} items, "
                               f"reporting counted {len(counted)} of {len(events)}")  # fmt: skip
        await asyncio.sleep(0.2)
    return Steady(
        outcome,
        [max(0.0, row["priced_at"].timestamp() - submitted[str(row["item_id"])]) for row in priced],
        [
            max(0.0, row["counted_at"].timestamp() - submitted[item_of_event[row["event_id"]]])
            for row in counted
        ],
    )


async def baseline(stack: FullStack, items: int, keyers: list[Keyer]) -> float:
    """Claim and submit alone: seconds until every item has been keyed once."""
    async with httpx.AsyncClient(timeout=120) as http:
        simulation = Simulation(http, Endpoints(stack.url("intake"), Signer(stack.private_key_pem)))
        client_id = await simulation.client("Claim and submit bench")
        outcome = await simulation.run(
            client_id, items=items, keyers=keyers, mode="single", until_keyed=True
        )
    return outcome.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--keyers", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 items")
    parser.add_argument(
        "--mode", choices=["single", "double"], default="single", help="QC of the product's job"
    )
    parser.add_argument(
        "--apart", action="store_true", help="each service's API and workers as two processes"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.items = 300
    items = arguments.items
    keyers = [Keyer(0.97)] * arguments.keyers
    if arguments.mode == "double":
        keyers += [Keyer(0.97, qc=True)] * 2  # where two keyings differ, someone adjudicates
    with full_stack(apart=arguments.apart, commit_times=True) as stack:
        for service, port in stack.ports.items():  # bpo_cli.demo finds the services by port
            os.environ[f"BPO_{service.upper()}_PORT"] = str(port)
        measured = asyncio.run(product(stack, items, keyers, arguments.mode))
        # Submits per item (keyings, reviews, adjudications) at the rate the product reached.
        submits_per_s = (measured.outcome.keyings + measured.outcome.reviews) / measured.seconds
        loaded = {
            load: asyncio.run(
                steady(stack, max(items // 4, 50), keyers, arguments.mode, load * submits_per_s)
            )
            for load in LOADS
        }
        stack.stop("validation", "billing", "reporting")
        baseline_s = asyncio.run(baseline(stack, items, keyers))
    outcome, product_s, cpu = measured.outcome, measured.seconds, measured.cpu
    product_rate, baseline_rate = items / product_s, items / baseline_s
    p50, p99 = outcome.latency(0.5) or 0.0, outcome.latency(0.99) or 0.0
    print(f"items                                   {items:,}, {arguments.keyers} keyers")
    print(f"product: push to completed, invoiced, reported  {product_rate:8.1f} items/s "
          f"({product_s:.1f} s; the job alone {outcome.seconds:.1f} s)")  # fmt: skip
    print(
        f"baseline: claim and submit alone        {baseline_rate:8.1f} items/s ({baseline_s:.1f} s)"
    )
    print(f"ratio                                   {product_rate / baseline_rate:8.2f} "
          f"(target >= {TARGET_RATIO})")  # fmt: skip
    print(f"submit to item completed                p50 {p50:.3f} s, p99 {p99:.3f} s")
    for load, run in loaded.items():
        p50_at, p99_at = run.outcome.latency(0.5) or 0.0, run.outcome.latency(0.99) or 0.0
        print(f"at {load:.0%} of that rate, {run.outcome.items} items   "
              f"submit to completed p50 {p50_at:.3f} s, p99 {p99_at:.3f} s")  # fmt: skip
        for what, latencies in (("priced", run.priced), ("counted", run.counted)):
            print(f"{'':<34}submit to {what:<9} p50 {quantile(latencies, 0.5):.3f} s, "
                  f"p99 {quantile(latencies, 0.99):.3f} s")  # fmt: skip
    per_item = {name: seconds * 1000 / items for name, seconds in cpu.items()}
    for name, ms in per_item.items():
        print(f"CPU per item, {name:<25} {ms:8.2f} ms")
    print(f"CPU per item, all processes              {sum(per_item.values()):8.2f} ms")
    statements = measured.statements / items
    print(f"SQL statements per item                 {statements:8.1f} (four databases)")
    figures = [
        {
            "figure": "end to end: push to completed, invoiced and reported vs claim+submit",
            "product": round(product_rate, 1),
            "baseline": round(baseline_rate, 1),
            "unit": "items/s",
            "ratio": round(product_rate / baseline_rate, 3),
            "target": TARGET_RATIO,
        },
        {
            "figure": "submit to item completed p99 (ratio: 1 s / p99)",
            "product": round(p99, 3),
            "baseline": TARGET_P99_S,
            "unit": "s",
            "ratio": round(TARGET_P99_S / p99, 3) if p99 else None,
            "target": 1.0,
        },
        {
            "figure": "SQL statements per item, four databases (ratio: 15 / statements)",
            "product": round(statements, 1),
            "baseline": TARGET_STATEMENTS,
            "unit": "statements",
            "ratio": round(TARGET_STATEMENTS / statements, 3),
            "target": 1.0,
        },
        {
            "figure": "submit to item completed p50 (informational)",
            "product": round(p50, 3),
            "baseline": None,
            "unit": "s",
            "ratio": None,
            "target": None,
        },
    ]
    for load, target_s in LOADS.items():
        p99_at = loaded[load].outcome.latency(0.99) or 0.0
        figures.append(
            {
                "figure": f"submit to item completed p99 at {load:.0%} of the product's rate "
                f"(ratio: {target_s} s / p99)",
                "product": round(p99_at, 3),
                "baseline": target_s,
                "unit": "s",
                "ratio": round(target_s / p99_at, 3) if p99_at else None,
                "target": 1.0,
            }
        )
    figures += [
        {
            "figure": f"submit to {what} {name} at {load:.0%} of the product's rate "
            "(informational)",
            "product": round(quantile(latencies, q), 3),
            "baseline": None,
            "unit": "s",
            "ratio": None,
            "target": None,
        }
        for load, run in loaded.items()
        for what, latencies in (
            ("usage line priced in billing", run.priced),
            ("item counted in reporting", run.counted),
        )
        for name, q in (("p50", 0.5), ("p99", 0.99))
    ]
    figures += [
        {
            "figure": f"CPU per item, {name} (informational)",
            "product": round(ms, 2),
            "baseline": None,
            "unit": "ms",
            "ratio": None,
            "target": None,
        }
        for name, ms in [*per_item.items(), ("all processes", sum(per_item.values()))]
    ]
    notes = [
        f"{items:,} {arguments.mode}-keyed items, {arguments.keyers} simulated keyers "
        "(claim 10 at a time) on httpx in the benchmark process; baseline: the same with "
        "validation, billing and reporting stopped, until the last submit",
        f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}",
    ]
    http_load = "simulated contractors on httpx in the benchmark process (not pinned)"
    result = {"name": "end_to_end", "figures": figures, "notes": notes, "http_load": http_load}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
