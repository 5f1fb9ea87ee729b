"""`bpo dev chaos` (`make chaos`): a working day with processes dying in it, then proof that
nothing was lost or done twice.

A stack of its own (PostgreSQL, NATS, the four services as processes) takes a double-keyed
job with a known truth, pushed over HTTP in bulk with Idempotency-Keys (the answer to one
request is lost and the request sent again). Simulated keyers (about 97 % right, each with
slips of their own, so two keyings that agree are right) and adjudicators work through it
as careful clients, retrying on connection errors and 5xx. Meanwhile faults come every
5-10 s: a SIGKILL of a service process (each service `kills` times), restarted 1-2 s later;
one stop and restart of NATS on its store; one immediate stop (`pg_ctl stop -m immediate`)
and restart of PostgreSQL. Once the job is done and the system quiet, every invariant is
checked and printed (bpo_cli.chaos_checks), with the time each fault took to recover from.
"""

import asyncio
import random
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx
from rich.console import Console
from rich.table import Table

from bpo_cli.chaos_checks import Check, Expected, check_everything
from bpo_cli.signing import Signer
from bpo_cli.simulation import WORK_TYPE, Endpoints, Keyer, Outcome, Simulation
from bpo_common.auth import Role, ensure_key_pair
from bpo_common.settings import SERVICES
from bpo_devtools import servers

# The shortest lease intake takes: a keyer's task taken down with it goes back soonest.
LEASE_SECONDS = 30
# Prices that make the invoice easy to check: 1.00 an item, 20 % tax.
PRICE_BOOK = {"currency": "EUR", "tax_rate": "0.20", "rates": {WORK_TYPE: {"per_item": "1.00"}}}
PIECE_RATES = {"currency": "EUR", "entry": "0.10", "review": "0.20", "adjudication": "0.20"}
# Submits per item of a double-keyed job: two keyings and a few adjudications.
SUBMITS_PER_ITEM = 2.1
# A job whose items stop becoming final for this long is stuck: the checks say where. Longer
# than any recovery needs (a lease to run out, a consumer's unacked events to come back).
STALL_S = 120.0


@dataclass(frozen=True)
class Plan:
    items: int
    kills: int  # of each service
    cluster: bool = False  # NATS as three nodes, two replicas of each service
    keyers: int = 5
    adjudicators: int = 2
    accuracy: float = 0.97
    gap_s: tuple[float, float] = (5.0, 10.0)
    down_s: tuple[float, float] = (1.0, 2.0)
    seed: int = 7

    def faults(self) -> list[str]:
        """Every fault of the run in the order they come: a service (on a cluster, one of its
        replicas) by name, and NATS (on a cluster, one node) and PostgreSQL among them."""
        rng = random.Random(self.seed)
        # On a cluster, one of the two replicas of a service's API or of its workers.
        processes = [f"{part}-{n}" for part in ("", "-worker") for n in (1, 2)]
        replicas = processes if self.cluster else [""]
        faults = [service + rng.choice(replicas) for service in SERVICES for _ in range(self.kills)]
        rng.shuffle(faults)
        for fault in ("nats", "postgres"):
            faults.insert(rng.randrange(1, len(faults)), fault)
        return faults

    def submits_per_second(self) -> float:
        """A pace that keeps the crew working until the last fault has come and gone."""
        seconds = sum(sum(span) / 2 for span in (self.gap_s, self.down_s)) * len(self.faults())
        return SUBMITS_PER_ITEM * self.items / seconds


# The suite's form: faults closer together (a service may die while the last one restarts),
# and as many items as keep the crew busy through them.
QUICK = Plan(items=700, kills=1, gap_s=(3.0, 6.0))
FULL = Plan(items=5000, kills=2)


@dataclass
class Fault:
    what: str
    at: float
    back_at: float | None = None


@dataclass
class ChaosStack:
    """PostgreSQL, NATS and the four services under `root`, any of which can be killed."""

    root: Path
    cluster: bool
    local: servers.LocalStack = field(init=False)
    urls: servers.StackUrls = field(init=False)
    services: servers.Services = field(init=False)
    private_key: str = field(init=False)

    def start(self) -> None:
        private, public = ensure_key_pair(self.root / "jwt")
        self.private_key = private.read_text()
        self.local = servers.LocalStack(
            self.root,
            postgres_port=servers.free_port(),
            nats_port=servers.free_port(),
            nats_nodes=3 if self.cluster else 1,
        )
        self.urls = self.local.start()
        servers.migrate_all(self.urls.database_urls)
        ports = {service: servers.free_port() for service in SERVICES}
        env = servers.service_environment(
            self.urls,
            jwt_public_key_file=public,
            kek=servers.local_kek(self.root / "kek"),
            ports=ports,
        ) | {
            "BPO_INTAKE_LEASE_SECONDS": str(LEASE_SECONDS),
            "BPO_INTAKE_SWEEP_INTERVAL_S": "1",
            # Events a killed consumer had fetched go to the next one after this long.
            "BPO_CONSUMER_ACK_WAIT_S": "10",
            "BPO_STREAM_REPLICAS": str(len(self.local.nats_nodes)),
        }
        self.services = servers.Services(
            env,
            ports,
            self.root / "logs",
            replicas=2 if self.cluster else 1,
            apart=self.cluster,
            worker_ports={service: servers.free_port() for service in SERVICES},
        )
        self.services.start(*SERVICES)

    def stop(self) -> None:
        """Stop what was started: all of it, or what a start that failed or was interrupted
        got to."""
        if hasattr(self, "services"):
            self.services.stop()
        if hasattr(self, "local"):
            self.local.stop()

    def url(self, service: str) -> str:
        return self.services.url(service)


async def _inflict(stack: ChaosStack, plan: Plan, faults: list[Fault]) -> None:
    """Every fault of the plan, one after another, each undone after a short while."""
    rng = random.Random(plan.seed)
    for what in plan.faults():
        await asyncio.sleep(rng.uniform(*plan.gap_s))
        fault = Fault(what, time.time())
        faults.append(fault)
        node = rng.choice(stack.local.nats_nodes)
        if what == "nats":
            await asyncio.to_thread(node.stop)
        elif what == "postgres":
            await asyncio.to_thread(stack.local.postgres.crash)
        else:
            await asyncio.to_thread(stack.services.kill, what)
        await asyncio.sleep(rng.uniform(*plan.down_s))
        if what == "nats":
            await asyncio.to_thread(node.start)
        elif what == "postgres":
            await asyncio.to_thread(stack.local.postgres.start, stack.local.credentials.superuser)
        else:
            await asyncio.to_thread(stack.services.start_replica, what)
        fault.back_at = time.time()


@dataclass(frozen=True)
class Result:
    plan: Plan
    outcome: Outcome
    faults: list[Fault]
    checks: list[Check]
    simulation: Simulation
    seconds: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


async def run(plan: Plan, root: Path) -> Result:
    """The whole chaos run against a stack of its own under `root`."""
    stack = ChaosStack(root, plan.cluster)
    started = time.perf_counter()
    try:
        await asyncio.to_thread(stack.start)
        signer = Signer(stack.private_key)
        manager = signer.headers(Role.MANAGER, "chaos")
        async with httpx.AsyncClient(timeout=30) as http:
            simulation = Simulation(http, Endpoints(stack.url("intake"), signer), seed=plan.seed)
            client_id = await simulation.client(f"Chaos {datetime.now(UTC):%H:%M:%S}")
            await _prices(http, stack, client_id, manager)
            crew = [Keyer(plan.accuracy)] * plan.keyers
            crew += [Keyer(1.0, qc=True)] * plan.adjudicators
            faults: list[Fault] = []
            inflicting = asyncio.create_task(_inflict(stack, plan, faults))
            try:
                outcome = await simulation.run(
                    client_id, items=plan.items, keyers=crew, mode="double",
                    own_slips=True, submits_per_second=plan.submits_per_second(),
                    requeue_flagged=True, lost_answer=True, stall_s=STALL_S,
                )  # fmt: skip
                await inflicting
            finally:
                inflicting.cancel()
            expected = Expected(
                job_id=outcome.job_id,
                client_id=client_id,
                items=plan.items,
                billable=outcome.items - outcome.golden,
                unit_price=Decimal("1.00"),
                tax_rate=Decimal("0.20"),
                lease_seconds=LEASE_SECONDS,
            )
            checks = await check_everything(
                http, stack.urls, stack.url, manager, expected, outcome, simulation.claims
            )
            exited = [n for n, p in stack.services.processes.items() if p.poll() is not None]
            checks.append(Check(
                "every service process came back after its fault", not exited,
                f"exited: {', '.join(exited)}" if exited else "all running",
            ))  # fmt: skip
    finally:
        await asyncio.to_thread(stack.stop)
    return Result(plan, outcome, faults, checks, simulation, time.perf_counter() - started)


async def _prices(
    http: httpx.AsyncClient, stack: ChaosStack, client_id: UUID, headers: dict[str, str]
) -> None:
    for url, body in (
        (f"{stack.url('billing')}/v1/price-books/{client_id}", PRICE_BOOK),
        (f"{stack.url('billing')}/v1/piece-rates/{WORK_TYPE}", PIECE_RATES),
    ):
        response = await http.put(url, json=body, headers=headers)
        response.raise_for_status()


def _first_after(moments: list[float], since: float) -> float | None:
    later = [moment for moment in moments if moment >= since]
    return min(later) - since if later else None


def recovery(result: Result) -> list[tuple[Fault, float | None, float | None]]:
    """For each fault: seconds from its undoing to the first claim that brought work, and to
    the first item that became final."""
    finals = result.simulation.final_at
    rows = []
    for fault in result.faults:
        back = fault.back_at or fault.at
        done_then = max((done for moment, done in finals if moment <= back), default=0)
        completed = [moment for moment, done in finals if done > done_then]
        rows.append(
            (fault, _first_after(result.simulation.claimed_at, back), _first_after(completed, back))
        )
    return rows


def report(result: Result, console: Console) -> None:
    faults = Table(title="Faults and recovery (seconds after the restart)")
    for column in ("fault", "down for", "first claim", "first item final"):
        faults.add_column(column)
    for fault, claim, final in recovery(result):
        down = (fault.back_at or fault.at) - fault.at
        faults.add_row(fault.what, f"{down:.1f}", _seconds(claim), _seconds(final))
    console.print(faults)
    checks = Table(title="Invariants")
    for column in ("", "invariant", "found"):
        checks.add_column(column)
    for check in result.checks:
        checks.add_row("[green]ok[/green]" if check.passed else "[red]FAILED[/red]",
                       check.name, check.found)  # fmt: skip
    console.print(checks)
    outcome = result.outcome
    console.print(
        f"{outcome.items:,} items ({outcome.golden} control), {outcome.keyings:,} keyings, "
        f"{outcome.reviews:,} adjudications in {result.seconds:.0f} s; "
        f"{outcome.failed_requests:,} client requests failed and were sent again; "
        f"{result.simulation.flagged_requeued} flagged items requeued."
    )


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(plan: Plan, root: Path, console: Console, on_result: Callable[[Result], None]) -> None:
    # Stopped from outside (a timeout, its terminal closing), it still stops every server it
    # started: they run in sessions of their own and would outlive it.
    signal.signal(signal.SIGTERM, _interrupted)
    servers.on_hangup(_interrupted)
    result = asyncio.run(run(plan, root))
    report(result, console)
    if result.passed:
        shutil.rmtree(root, ignore_errors=True)  # kept, with the services' logs, when not
    else:
        console.print(f"the servers' data and the services' logs are under {root}")
    on_result(result)
