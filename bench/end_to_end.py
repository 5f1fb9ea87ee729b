"""End to end: items per second from push to completed, invoiced and reported, against claim
and submit alone; and the latency from a submit to its item completed.

    .venv/bin/python bench/end_to_end.py [--items 3000] [--keyers 16] [--mode double] [--quick]

Starts the whole product (bench/harness.py). The product run pushes a job (single-keyed, or
double-keyed with `--mode double`) of `--items` invoices and lets `--keyers` simulated
contractors (bpo_cli.simulation, in this process) claim and submit through the HTTP API; it
ends when the job is completed, reporting shows every item completed and billing has priced
every billable item and drafted the client's invoice. The baseline, in the same run:
validation, billing and reporting stopped, the same keyers claim and submit a job of the
same size, and the clock stops at the last submit. Ratio = product items/s / baseline
items/s (target >= 0.80: the asynchronous pipeline keeps up with the contractors). Latency:
from each item's last submit to its completed_at, p50 and p99 (target p99 < 1 s). The last
line is the RESULT of bench/README.md.
"""

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime

import httpx
from harness import FullStack, full_stack, stack_cpu

from bpo_cli import demo
from bpo_cli.signing import Signer
from bpo_cli.simulation import Endpoints, Keyer, Outcome, Simulation
from bpo_common.auth import Role

TARGET_RATIO = 0.80
TARGET_P99_S = 1.0


async def product(
    stack: FullStack, items: int, keyers: list[Keyer], mode: str
) -> tuple[Outcome, float, dict[str, float]]:
    """The whole pipeline: (the simulation's outcome, seconds until invoiced and reported, CPU
    seconds each process spent on it)."""
    signer = Signer(stack.private_key_pem)
    manager = signer.headers(Role.MANAGER, "bench")
    async with httpx.AsyncClient(timeout=120) as http:
        simulation = Simulation(http, Endpoints(stack.url("intake"), signer))
        client_id = await simulation.client("End-to-end bench")
        await demo.set_prices(http, client_id, manager)
        started, clock, cpu = datetime.now(UTC), time.perf_counter(), stack_cpu(stack)
        outcome = await simulation.run(client_id, items=items, keyers=keyers, mode=mode)
        overview, invoice = await demo.caught_up(http, outcome, started, manager)
        seconds = time.perf_counter() - clock
        spent = {name: used - cpu.get(name, 0.0) for name, used in stack_cpu(stack).items()}
    if overview["items_completed"] != items:
        raise RuntimeError(f"reporting shows {overview['items_completed']} of {items} items")
    billed = sum(line["quantity"] for line in invoice["lines"])
    if billed != items - outcome.golden:
        raise RuntimeError(f"the invoice bills {billed} items, not {items - outcome.golden}")
    return outcome, seconds, spent


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
    with full_stack(apart=arguments.apart) as stack:
        for service, port in stack.ports.items():  # bpo_cli.demo finds the services by port
            os.environ[f"BPO_{service.upper()}_PORT"] = str(port)
        outcome, product_s, cpu = asyncio.run(product(stack, items, keyers, arguments.mode))
        stack.stop("validation", "billing", "reporting")
        baseline_s = asyncio.run(baseline(stack, items, keyers))
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
    per_item = {name: seconds * 1000 / items for name, seconds in cpu.items()}
    for name, ms in per_item.items():
        print(f"CPU per item, {name:<25} {ms:8.2f} ms")
    print(f"CPU per item, all processes              {sum(per_item.values()):8.2f} ms")
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
            "figure": "submit to item completed p50 (informational)",
            "product": round(p50, 3),
            "baseline": None,
            "unit": "s",
            "ratio": None,
            "target": None,
        },
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
