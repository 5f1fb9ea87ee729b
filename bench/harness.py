"""What the benchmarks run against, under `.run/bench/<pid>` and removed at the end: durable
PostgreSQL and NATS (`stack`: the intake database migrated; `full_stack`: every database
migrated and the four services as their own processes, as `make run` starts them), and the
CPU time processes use around a timed run; and the RESULT line of bench/README.md."""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from bpo_cli.signing import Signer
from bpo_common.auth import Role, ensure_key_pair
from bpo_common.db import SessionFactory, create_engine, create_session_factory
from bpo_common.messaging import connect, ensure_stream
from bpo_common.migrations import upgrade
from bpo_common.settings import SERVICES
from bpo_devtools import servers

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    root: Path
    database_url: str
    nats_url: str
    postmaster_pid_file: Path
    nats_pid_file: Path


@contextmanager
def stack() -> Iterator[Stack]:
    """Durable PostgreSQL and NATS under `.run/bench/<pid>`, the intake database migrated."""
    root = REPO_ROOT / ".run" / "bench" / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    local = servers.LocalStack(
        root, postgres_port=servers.free_port(), nats_port=servers.free_port(), durable=True
    )
    try:
        urls = local.start()
        upgrade("bpo_intake", urls.database_urls["intake"])
        yield Stack(
            root,
            urls.database_urls["intake"],
            urls.nats_url,
            local.postgres.data_dir / "postmaster.pid",
            local.nats.pid_file,
        )
    finally:
        local.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Connected:
    engine: AsyncEngine
    sessions: SessionFactory  # as intake opens them
    js: JetStreamContext


@asynccontextmanager
async def connected(bench: Stack, name: str) -> AsyncIterator[Connected]:
    """A pool of four on the stack's intake database and a NATS connection called `name`,
    the BPO stream in place; both closed afterwards."""
    engine = create_engine(bench.database_url, pool_size=4)
    nc = await connect(bench.nats_url, name=name)
    try:
        js = nc.jetstream()
        await ensure_stream(js)
        yield Connected(engine, create_session_factory(engine, source="intake"), js)
    finally:
        await nc.close()
        await engine.dispose()


# CPU seconds of the processes involved, read from /proc around each timed run.


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cpu_seconds(pids: Sequence[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _with_children(pid: int | None) -> list[int]:
    if pid is None:
        return []
    family = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                family.append(int(entry.name))
    return family


def stack_cpu(stack: "FullStack") -> dict[str, float]:
    """CPU seconds so far of each service process (with its children: intake's decoding
    process), PostgreSQL, NATS and this process."""
    cpu = {name: _cpu_seconds(_with_children(pid)) for name, pid in stack.pids().items()}
    postmaster = _pid(stack.root / "postgres" / "data" / "postmaster.pid")
    cpu["PostgreSQL"] = _cpu_seconds(_with_children(postmaster))
    nats = _pid(stack.root / "nats" / "nats.pid")
    cpu["NATS"] = _cpu_seconds([nats] if nats else [])
    cpu["simulated contractors"] = _cpu_seconds([os.getpid()])
    return cpu


def cpu_snapshot(bench: Stack) -> dict[str, float]:
    nats_pid = _pid(bench.nats_pid_file)
    return {
        "bench process": _cpu_seconds([os.getpid()]),
        "PostgreSQL": _cpu_seconds(_with_children(_pid(bench.postmaster_pid_file))),
        "NATS": _cpu_seconds([nats_pid] if nats_pid else []),
    }


@dataclass
class Timed:
    seconds: float
    cpu: dict[str, float]  # CPU seconds per process group during the run


# Statements pg_stat_statements counts that are not the services' work: transaction control.
TRANSACTION_CONTROL = r"^\s*(begin|commit|rollback|start transaction|savepoint|release)\y"


@dataclass
class FullStack:
    root: Path
    urls: servers.StackUrls
    private_key_pem: str
    superuser_dsn: str  # PostgreSQL's superuser, without a database
    services: servers.Services

    @property
    def ports(self) -> Mapping[str, int]:
        return self.services.ports

    def url(self, service: str) -> str:
        return self.services.url(service)

    def headers(self, role: Role, client_id: UUID | None = None) -> dict[str, str]:
        """A bearer token the services accept, for `role` (and `client_id`'s client)."""
        return Signer(self.private_key_pem).headers(role, "bench", client_id)

    def admin_dsn(self, database: str) -> str:
        return f"{self.superuser_dsn}/{database}"

    def stop(self, *services: str) -> None:
        self.services.stop(*services)

    async def statements(self, *, reset: bool = False) -> int:
        """SQL statements the services' databases have run (pg_stat_statements: a COPY is
        one, each row of an executemany one; transaction control not counted), since the
        last `reset`."""
        connection = await asyncpg.connect(self.admin_dsn("postgres"))
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if reset:
                await connection.execute("SELECT pg_stat_statements_reset()")
            calls: int = await connection.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements AS s"
                " JOIN pg_database AS d ON d.oid = s.dbid WHERE d.datname LIKE 'bpo\\_%'"
                " AND s.query !~* $1",
                TRANSACTION_CONTROL,
            )
        finally:
            await connection.close()
        return int(calls)

    async def fetch(self, database: str, query: str, *args: Any) -> list[Any]:
        """The rows `query` gives in `database` (`bpo_intake`, ...), as the superuser."""
        connection = await asyncpg.connect(self.admin_dsn(database))
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.services.processes.items()}


@contextmanager
def full_stack(
    *services: str, apart: bool = False, commit_times: bool = False
) -> Iterator[FullStack]:
    """Servers migrated and `services` (all four when none is named) ready, as their own
    processes (`apart`: each service's API and workers as two); stopped and removed
    afterwards. `commit_times`: PostgreSQL keeps each transaction's commit time
    (`track_commit_timestamp`), so `pg_xact_commit_timestamp(xmin)` tells when a row was
    written."""
    root = REPO_ROOT / ".run" / "bench" / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    local = servers.LocalStack(
        root, postgres_port=servers.free_port(), nats_port=servers.free_port(), durable=True
    )
    running: servers.Services | None = None
    try:
        urls = local.start()
        superuser = f"postgresql://postgres:{local.credentials.superuser}@127.0.0.1:"
        superuser += str(local.postgres.port)
        if commit_times:  # a setting PostgreSQL reads when it starts
            asyncio.run(
                _execute(f"{superuser}/postgres", "ALTER SYSTEM SET track_commit_timestamp = on")
            )
            local.postgres.stop()
            local.postgres.start(local.credentials.superuser)
        servers.migrate_all(urls.database_urls)
        private, public = ensure_key_pair(root / "jwt")
        ports = {service: servers.free_port() for service in SERVICES}
        env = servers.service_environment(
            urls, jwt_public_key_file=public, kek=servers.local_kek(root / "kek"), ports=ports
        )
        running = servers.Services(
            # Documents in this run's folder, removed with it.
            env
            | {
                "BPO_LOG_LEVEL": "WARNING",
                "BPO_INTAKE_DOCUMENT_STORE_URL": (root / "documents").as_uri(),
            },
            ports,
            root,
            apart=apart,
            worker_ports={service: servers.free_port() for service in SERVICES},
        )
        running.start(*(services or SERVICES))
        yield FullStack(root, urls, private.read_text(), superuser, running)
    finally:
        if running is not None:
            running.stop()
        local.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def result_line(name: str, figures: Sequence[Mapping[str, Any]], notes: Sequence[str]) -> str:
    """The machine-readable last line every benchmark prints (see bench/README.md)."""
    return "RESULT " + json.dumps({"name": name, "figures": list(figures), "notes": list(notes)})


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


Servers = TypeVar("Servers")
Measured = TypeVar("Measured")


def measured(
    servers: AbstractContextManager[Servers],
    measure: Callable[[Servers], Coroutine[Any, Any, Measured]],
) -> Measured | None:
    """What `measure` gives on the started `servers`, stopped afterwards; None, said on
    stderr, when Ctrl-C, SIGTERM or SIGHUP cut it short."""
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, interrupted)
    try:
        with servers as started:
            return asyncio.run(measure(started))
    except KeyboardInterrupt:
        print("interrupted: the stack is stopped", file=sys.stderr)
        return None


def console_rows(console: Sequence[str]) -> list[tuple[str, str]]:
    """A page's console errors and warnings for the table: how many, and the first ten."""
    return [
        ("page console errors and warnings", str(len(console)) if console else "none"),
        *((f"  {n}", line[:200]) for n, line in enumerate(console[:10], start=1)),
    ]


def print_table(title: str, rows: Sequence[tuple[str, str]], load_start: float) -> None:
    """The table every benchmark prints for people: its `rows`, then the machine's (the load
    from `load_start`, the 1-minute average when it began, to now)."""
    rows = [
        *rows,
        ("cores", str(os.cpu_count())),
        ("load average (1 min) at start / end", f"{load_start:.2f} / {os.getloadavg()[0]:.2f}"),
        ("python", platform.python_version()),
        ("date", datetime.now(UTC).isoformat(timespec="seconds")),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{title:<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


Measure = Callable[[Stack, int, int], Coroutine[Any, Any, tuple[list[Timed], list[Timed], int]]]


@dataclass(frozen=True)
class EventBench:
    """A messaging benchmark: `measure(stack, events, runs)` gives the product's and the
    baseline's timed runs and the mean payload size; the rest says how to report them."""

    name: str
    title: str
    figure: str
    product: str
    baseline: str
    target: float
    events: int
    quick_events: int
    setting: tuple[str, str]
    method: str


def run_event_bench(bench: EventBench, measure: Measure, doc: str | None) -> int:
    """Parse the arguments, measure on a fresh `stack()`, print the table and the RESULT."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=bench.events, help="events per run")
    parser.add_argument("--runs", type=int, default=2, help="alternating runs of each; best kept")
    parser.add_argument(
        "--quick", action="store_true", help=f"a smoke run: {bench.quick_events:,} events, 1 run"
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs = bench.quick_events, 1
    if args.events < 1 or args.runs < 1:
        parser.error("--events and --runs must be positive")
    load_start = os.getloadavg()[0]
    measured_runs = measured(stack(), lambda servers: measure(servers, args.events, args.runs))
    if measured_runs is None:
        return 130
    products, baselines, size = measured_runs
    best_product = min(products, key=lambda run: run.seconds)
    best_baseline = min(baselines, key=lambda run: run.seconds)
    product_rate = args.events / best_product.seconds
    baseline_rate = args.events / best_baseline.seconds
    ratio = product_rate / baseline_rate

    def seconds(runs: Sequence[Timed]) -> str:
        return ", ".join(f"{run.seconds:.2f}" for run in runs) + " s"

    def cpu(run: Timed) -> str:
        return ", ".join(
            f"{name} {1e6 * value / args.events:.0f}" for name, value in run.cpu.items()
        )

    rows = [
        ("events per run", f"{args.events:,} (mean payload {size} bytes)"),
        ("runs (best of each kept)", str(args.runs)),
        (f"product: {bench.product}, events/s", f"{product_rate:,.0f}  ({seconds(products)})"),
        (f"baseline: {bench.baseline}, events/s", f"{baseline_rate:,.0f}  ({seconds(baselines)})"),
        ("ratio product / baseline", f"{ratio:.2f}  (target >= {bench.target:.2f})"),
        ("product CPU per event (us)", cpu(best_product)),
        ("baseline CPU per event (us)", cpu(best_baseline)),
        bench.setting,
    ]
    print_table(bench.title, rows, load_start)
    figure = {
        "figure": bench.figure,
        "product": round(product_rate, 1),
        "baseline": round(baseline_rate, 1),
        "unit": "events/s",
        "ratio": round(ratio, 3),
        "target": bench.target,
    }
    notes = [
        f"{args.events:,} events of ~{size} bytes, best of {args.runs}; {bench.method}",
        f"product CPU us/event: {cpu(best_product)}; baseline: {cpu(best_baseline)}",
    ]
    print(result_line(bench.name, [figure], notes))
    return 0
