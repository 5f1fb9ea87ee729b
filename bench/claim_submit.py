"""Claim then submit over HTTP, 32 contractors at once, against a no-op FastAPI baseline
and against the same SQL sent straight from 16 connections.

    .venv/bin/python bench/claim_submit.py [--items 20000] [--warmup 5] [--duration 20]
        [--sql-items 40000] [--sql-connections 16] [--quick]

Starts its own durable stack and the intake service (one uvicorn worker) pinned to one core,
loads one job and registers the contractors, then drives them from a load generator pinned to
the other core: a cycle is POST /v1/tasks/claim {"limit": 1}, then POST /v1/tasks/{id}/submit.
A no-op FastAPI endpoint served the same way is driven by the same generator in the same run;
the first figure is the ratio of the two request rates (target >= 0.25). The second baseline
loads a second job of its own (`--sql-items`), stops the service, and runs the statements
the two requests send (intake's `repository.claims.claim_tasks`, `tasks.held_task` and
`submit_task`, so the very same SQL) from 16 asyncpg connections in one process on the
generator's core; the second figure is the ratio of cycles/s (target >= 0.30). It exits 0
whatever the ratios: it measures, it does not judge. The last line of its output is the
`RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from time import perf_counter
from types import FrameType
from typing import Any, Literal
from uuid import UUID

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Role, ensure_key_pair, issue_token
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.db import asyncpg_dsn, create_engine
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_common.outbox import outbox_values
from bpo_common.settings import SERVICES
from bpo_devtools import servers
from bpo_intake.repository import claims
from bpo_intake.repository import tasks as repository
from bpo_intake.schemas import ClaimRequest
from bpo_intake.settings import Settings as IntakeSettings

TARGET_RATIO = 0.25
TARGET_SQL_RATIO = 0.30
LEASE_SECONDS: int = IntakeSettings.model_fields["lease_seconds"].default
MAX_ITEMS_PER_REQUEST = 10_000
FIELDS = [
    {"name": "invoice_number", "type": "string", "required": True},
    {"name": "total", "type": "decimal", "required": True},
]
Mode = Literal["keyers", "noop"]


# The stack and the processes: each run has its own folder `.run/bench/<pid>` and free
# ports, so it runs beside `make run` and the tests; all of it is gone when the run ends.

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
# The defaults of ServiceSettings; the stack sets no other issuer or audience.
ISSUER, AUDIENCE = "bpo-local", "bpo"


@dataclass(frozen=True)
class BenchStack:
    root: Path
    urls: servers.StackUrls
    private_key: str
    public_key_file: Path
    postgres_data: Path

    def environment(self) -> dict[str, str]:
        """Every service's variables, as `make run` sets them (ports are set per service)."""
        ports = {service: servers.free_port() for service in SERVICES}
        return servers.service_environment(
            self.urls,
            jwt_public_key_file=self.public_key_file,
            kek=servers.local_kek(self.root / "kek"),
            ports=ports,
        )

    def headers(
        self, role: Role, subject: str = "bench", client_id: UUID | None = None
    ) -> dict[str, str]:
        token = issue_token(
            self.private_key,
            subject=subject,
            role=role,
            client_id=client_id,
            issuer=ISSUER,
            audience=AUDIENCE,
        )
        return {"Authorization": f"Bearer {token}"}

    def postmaster_pid(self) -> int | None:
        return _read_pid(self.postgres_data / "postmaster.pid")

    def nats_pid(self) -> int | None:
        return _read_pid(self.root / "nats" / "nats.pid")


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that a second Ctrl-C cannot cut short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    """PostgreSQL (durable, as in production) and NATS on free ports, every database migrated."""
    root = REPO_ROOT / ".run" / "bench" / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    local = servers.LocalStack(
        root,
        postgres_port=servers.free_port(),
        nats_port=servers.free_port(),
        durable=True,
    )
    try:
        urls = local.start()
        servers.migrate_all(urls.database_urls)
        private, public = ensure_key_pair(root / "jwt")
        yield BenchStack(root, urls, private.read_text(), public, local.postgres.data_dir)
    finally:
        with shielded():
            local.stop()
            shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Served:
    service: str
    pid: int
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def served(
    service: str, env: Mapping[str, str], log: Path, cpus: set[int] | None = None
) -> Iterator[Served]:
    """One uvicorn worker of `bpo_<service>.app`, started by `servers.start_service` as
    `make run` starts it, pinned to `cpus`, and ready."""
    port = servers.free_port()
    env = {**env, f"BPO_{service.upper()}_PORT": str(port)}
    process = servers.start_service(service, env, port, log)
    try:
        if cpus:
            pin(process.pid, cpus)
        try:
            servers.wait_ready({service: port})
        except RuntimeError as exc:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{exc}\n{tail}") from exc
        if cpus:
            pin(process.pid, cpus)  # again: threads started since then
        yield Served(service, process.pid, port)
    finally:
        with shielded():
            servers.stop_services({service: process})


def bench_module_environment() -> dict[str, str]:
    """Lets uvicorn import the packages kept under bench/ (the no-op baseline)."""
    path = [str(BENCH_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path)}


def core_split() -> tuple[set[int], set[int]] | None:
    """(server cores, load generator cores), or None when this process may use one core only."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[-1]}, {cores[0]}


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of a process; sched_setaffinity on a pid moves only its main thread."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def cpu_times(pids: Iterable[int], *, kernel_only: bool = False) -> dict[int, float]:
    """User + system (or only system) CPU seconds of each process, all its threads, that
    still exists."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 (state) on
        user, system = int(fields[11]), int(fields[12])  # utime, stime
        times[pid] = (system if kernel_only else user + system) / ticks
    return times


def with_children(pid: int) -> list[int]:
    """A process and its direct children: the postmaster and its backends."""
    family = [pid]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            family.append(int(entry.name))
    return family


def machine_cpu() -> dict[str, float]:
    """CPU seconds the whole machine spent busy (all cores) and stolen by its hypervisor."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        user, nice, system, _, _, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    return {"busy": (user + nice + system + irq + softirq) / ticks, "steal": steal / ticks}


def cpu_used(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds used between two `cpu_times`; a process that appeared in between counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def uvicorn_implementations() -> str:
    """What uvicorn's `auto` loop and http settings pick in this environment."""
    loop, http = "asyncio", "h11"
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        pass
    return f"{loop} + {http}"


# The load generator: its own process, pinned to its own core.


@dataclass(frozen=True)
class LoadPlan:
    mode: Mode
    base_url: str
    headers: Sequence[Mapping[str, str]]  # one worker (and one connection) each
    warmup_s: float
    duration_s: float
    cpus: set[int] | None
    # Whose CPU time the generator samples at the edges of the measured window.
    server_pid: int
    postmaster_pid: int | None
    nats_pid: int | None


@dataclass
class Timeline:
    """What the generator saw; times are its perf_counter seconds."""

    window: tuple[float, float] = (0.0, 0.0)
    requests: list[tuple[str, float, float]] = field(default_factory=list)  # label, end, s
    cycles: list[tuple[float, float]] = field(default_factory=list)  # end, seconds
    errors: list[tuple[float, str]] = field(default_factory=list)  # end, what
    empty_claims: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    loop: str = "asyncio"


def generate_load(plan: LoadPlan, results: Connection) -> None:
    """The generator process: the parent alone handles Ctrl-C and stops this one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    if importlib.util.find_spec("sniffio") is None:
        # httpcore retries `import sniffio` on every request when it is missing (anyio no
        # longer brings it), a sys.path scan that costs the generator ~0.3 ms a request.
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    runner, loop = _runner()
    with runner:
        timeline = runner.run(_drive(plan))
    timeline.loop = loop
    results.send(timeline)
    results.close()


def _runner() -> tuple[asyncio.Runner, str]:
    """An event loop as the service's own: uvloop when it is installed."""
    try:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop), "uvloop"
    except ImportError:
        return asyncio.Runner(), "asyncio"


async def _drive(plan: LoadPlan) -> Timeline:
    timeline = Timeline()
    start = perf_counter()
    opens, closes = start + plan.warmup_s, start + plan.warmup_s + plan.duration_s
    work = _keyer if plan.mode == "keyers" else _noop
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=plan.base_url,
                    headers=dict(headers),
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=30,
                )
            )
            for headers in plan.headers
        ]
        workers = [asyncio.create_task(work(client, closes, timeline)) for client in clients]
        await asyncio.sleep(opens - perf_counter())
        window_start, before = perf_counter(), _cpu_snapshot(plan)
        await asyncio.sleep(closes - perf_counter())
        window_end, after = perf_counter(), _cpu_snapshot(plan)
        await asyncio.gather(*workers)
    timeline.window = (window_start, window_end)
    timeline.cpu_seconds = {name: cpu_used(before[name], after[name]) for name in after}
    return timeline


def _cpu_snapshot(plan: LoadPlan) -> dict[str, dict[int, float]]:
    groups = {"generator": [os.getpid()], "server": [plan.server_pid]}
    if plan.postmaster_pid is not None:
        groups["postgres"] = with_children(plan.postmaster_pid)
    if plan.nats_pid is not None:
        groups["nats"] = [plan.nats_pid]
    snapshot = {name: cpu_times(pids) for name, pids in groups.items()}
    snapshot["server-kernel"] = cpu_times([plan.server_pid], kernel_only=True)
    machine = machine_cpu()
    snapshot["machine"], snapshot["steal"] = {0: machine["busy"]}, {0: machine["steal"]}
    return snapshot


async def _keyer(client: httpx.AsyncClient, until: float, timeline: Timeline) -> None:
    cycle = 0
    while perf_counter() < until:
        began = perf_counter()
        claimed = await _post(client, "/v1/tasks/claim", {"limit": 1}, timeline)
        if claimed is None:
            continue
        body, ended, seconds = claimed
        if not body["tasks"]:
            timeline.empty_claims.append(ended)  # not counted as work done
            continue
        timeline.requests.append(("claim", ended, seconds))
        cycle += 1
        data = {"invoice_number": f"INV-{cycle:06d}", "total": f"{cycle % 9973}.{cycle % 100:02d}"}
        path = f"/v1/tasks/{body['tasks'][0]['id']}/submit"
        submitted = await _post(client, path, {"data": data}, timeline)
        if submitted is not None:
            _, ended, seconds = submitted
            timeline.requests.append(("submit", ended, seconds))
            timeline.cycles.append((ended, ended - began))


async def _noop(client: httpx.AsyncClient, until: float, timeline: Timeline) -> None:
    while perf_counter() < until:
        answered = await _post(client, "/noop", None, timeline)
        if answered is not None:
            _, ended, seconds = answered
            timeline.requests.append(("noop", ended, seconds))


async def _post(
    client: httpx.AsyncClient, path: str, body: Any, timeline: Timeline
) -> tuple[Any, float, float] | None:
    """The decoded 2xx body, when it came and how long it took; or None after recording
    what went wrong."""
    began = perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as exc:
        timeline.errors.append((perf_counter(), f"POST {path}: {type(exc).__name__} {exc}"))
        await asyncio.sleep(0.05)  # a dead server must not turn this into a busy loop
        return None
    ended = perf_counter()
    if not response.is_success:
        what = f"POST {path}: {response.status_code} {response.text[:200]}"
        timeline.errors.append((ended, what))
        return None
    return response.json(), ended, ended - began


def run_load(plan: LoadPlan) -> Timeline:
    return _in_process(generate_load, plan, plan.warmup_s + plan.duration_s)


def _in_process(target: Callable[[Any, Connection], None], plan: Any, seconds: float) -> Timeline:
    """Run `target(plan, pipe)` in a process of its own and return the Timeline it sends."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(plan, sender), name="load-generator")
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds + 120):
            raise RuntimeError("the load generator did not report in time")
        timeline: Timeline = receiver.recv()
        process.join(10)
        return timeline
    except EOFError as exc:
        raise RuntimeError(f"the load generator died (exit code {process.exitcode})") from exc
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


# The SQL baseline: intake's own claim and submit statements, sent by the repository
# functions the service calls, from 16 connections with no HTTP and no service around them.


@dataclass(frozen=True)
class SqlPlan:
    database_url: str
    contractor_ids: Sequence[UUID]  # one connection each
    warmup_s: float
    duration_s: float
    cpus: set[int] | None
    postmaster_pid: int | None
    nats_pid: int | None


def drive_sql(plan: SqlPlan, results: Connection) -> None:
    """The SQL baseline's process, pinned where the load generator runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    runner, loop = _runner()
    with runner:
        timeline = runner.run(_drive_sql(plan))
    timeline.loop = loop
    results.send(timeline)
    results.close()


def run_sql(plan: SqlPlan) -> Timeline:
    return _in_process(drive_sql, plan, plan.warmup_s + plan.duration_s)


async def _drive_sql(plan: SqlPlan) -> Timeline:
    """Like `_drive`, but the window closes early when the queue runs dry."""
    timeline = Timeline()
    dry = asyncio.Event()
    engine = create_engine(plan.database_url, pool_size=len(plan.contractor_ids))
    try:
        async with AsyncExitStack() as stack:
            # A session on a connection held for the whole run: the repository functions
            # take a session and send their statements straight to its asyncpg connection.
            sessions = [
                AsyncSession(bind=await stack.enter_async_context(engine.connect()))
                for _ in plan.contractor_ids
            ]
            start = perf_counter()
            opens, closes = start + plan.warmup_s, start + plan.warmup_s + plan.duration_s
            workers = [
                asyncio.create_task(_sql_keyer(session, contractor, closes, timeline, dry))
                for session, contractor in zip(sessions, plan.contractor_ids, strict=True)
            ]
            with suppress(TimeoutError):
                await asyncio.wait_for(dry.wait(), opens - perf_counter())
            if dry.is_set():
                await asyncio.gather(*workers)
                raise RuntimeError("the queue ran dry during the warm-up; use more --items")
            window_start, before = perf_counter(), _sql_cpu_snapshot(plan)
            with suppress(TimeoutError):
                await asyncio.wait_for(dry.wait(), closes - perf_counter())
            window_end, after = perf_counter(), _sql_cpu_snapshot(plan)
            dry.set()  # the others stop after their cycle
            await asyncio.gather(*workers)
            for session in sessions:
                await session.close()
    finally:
        await engine.dispose()
    timeline.window = (window_start, window_end)
    timeline.cpu_seconds = {name: cpu_used(before[name], after[name]) for name in after}
    return timeline


def _sql_cpu_snapshot(plan: SqlPlan) -> dict[str, dict[int, float]]:
    groups = {"generator": [os.getpid()]}
    if plan.postmaster_pid is not None:
        groups["postgres"] = with_children(plan.postmaster_pid)
    if plan.nats_pid is not None:
        groups["nats"] = [plan.nats_pid]
    snapshot = {name: cpu_times(pids) for name, pids in groups.items()}
    machine = machine_cpu()
    snapshot["machine"], snapshot["steal"] = {0: machine["busy"]}, {0: machine["steal"]}
    return snapshot


def _outbox_payload() -> bytes:
    """A TaskSubmitted envelope as intake stores it; each submission gets its own event id."""
    now = datetime.now(UTC)
    event = TaskSubmitted(
        task_id=new_id(), job_id=new_id(), item_id=new_id(), client_id=new_id(),
        work_type="bench.invoice", kind="entry", contractor_id=new_id(),
        data={"invoice_number": "INV-000001", "total": "1234.56"}, golden=None,
        entries_expected=1, claimed_at=now, submitted_at=now,
    )  # fmt: skip
    return outbox_values(wrap(event, source="intake"))[2]


async def _sql_keyer(
    session: AsyncSession,
    contractor_id: UUID,
    until: float,
    timeline: Timeline,
    dry: asyncio.Event,
) -> None:
    """What a claim and a submit request send to PostgreSQL: the claim statement, then the
    held-task read and the guarded submit that also writes the outbox row."""
    claim = ClaimRequest(limit=1)
    lease = timedelta(seconds=LEASE_SECONDS)
    payload = _outbox_payload()
    cycle = 0
    while perf_counter() < until and not dry.is_set():
        began = perf_counter()
        try:
            now = datetime.now(UTC)
            leased = await claims.claim_tasks(
                session, contractor_id, claim.kinds, claim.limit, now, now + lease
            )
            rows = leased.rows
            ended = perf_counter()
            if not rows:
                timeline.empty_claims.append(ended)
                dry.set()
                return
            timeline.requests.append(("claim", ended, ended - began))
            cycle += 1
            data = {
                "invoice_number": f"INV-{cycle:06d}",
                "total": f"{cycle % 9973}.{cycle % 100:02d}",
            }
            task_id = rows[0]["id"]
            submit_began, now = perf_counter(), datetime.now(UTC)
            held = await repository.held_task(session, task_id, contractor_id)
            stored = held is not None and await repository.submit_task(
                session, task_id, contractor_id, now, data, None,
                (new_id(), TaskSubmitted.event_type, payload),
            )  # fmt: skip
        except Exception as exc:
            timeline.errors.append((perf_counter(), f"SQL: {type(exc).__name__} {exc}"))
            await asyncio.sleep(0.05)
            continue
        ended = perf_counter()
        if not stored:
            timeline.errors.append((ended, "SQL submit: the lease was lost"))
            continue
        timeline.requests.append(("submit", ended, ended - submit_began))
        timeline.cycles.append((ended, ended - began))


# Figures


@dataclass(frozen=True)
class Figures:
    seconds: float
    requests_per_s: float
    cycles_per_s: float
    latency_ms: dict[str, tuple[float, float]]  # label: (p50, p99)
    errors: int
    error_kinds: dict[str, int]
    empty_claims: int
    cpu_percent: dict[str, float]

    def cpu_ms_per_request(self, name: str) -> float:
        """CPU one process group spent per 2xx request: a figure no load generator limits."""
        return 10 * self.cpu_percent[name] / self.requests_per_s if self.requests_per_s else 0.0


def figures(timeline: Timeline) -> Figures:
    """Requests and cycles that ended inside the measured window."""
    start, end = timeline.window
    seconds = end - start

    def inside(ended: float) -> bool:
        return start <= ended <= end

    requests = [(label, s) for label, ended, s in timeline.requests if inside(ended)]
    cycles = [s for ended, s in timeline.cycles if inside(ended)]
    latencies: dict[str, list[float]] = {"cycle": cycles, "request": [s for _, s in requests]}
    for label, s in requests:
        latencies.setdefault(label, []).append(s)
    errors = [what for ended, what in timeline.errors if inside(ended)]
    return Figures(
        seconds=seconds,
        requests_per_s=len(requests) / seconds,
        cycles_per_s=len(cycles) / seconds,
        latency_ms={
            label: (percentile(values, 0.50) * 1000, percentile(values, 0.99) * 1000)
            for label, values in latencies.items()
            if values
        },
        errors=len(errors),
        error_kinds=dict(Counter(_UUID.sub("{id}", what)[:160] for what in errors).most_common(5)),
        empty_claims=sum(1 for ended in timeline.empty_claims if inside(ended)),
        cpu_percent=_cpu_percent(timeline.cpu_seconds, seconds),
    )


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _cpu_percent(used: Mapping[str, float], seconds: float) -> dict[str, float]:
    """Percent of one core per group; `others` is what the rest of the machine used meanwhile
    (another test run on the same machine shows up there)."""
    percent = {name: 100 * cpu / seconds for name, cpu in used.items()}
    ours = ("generator", "server", "postgres", "nats")
    percent["others"] = max(0.0, percent["machine"] - sum(percent.get(name, 0) for name in ours))
    return percent


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# Setup through the public API, as a client and a manager would


@dataclass(frozen=True)
class Work:
    description: str  # how the items went in
    headers: list[dict[str, str]]  # each contractor's request headers
    contractor_ids: list[UUID]
    client_headers: dict[str, str]


def prepare(intake: Served, stack: BenchStack, items: int, contractors: int) -> Work:
    """One client, one job of `items` items and `contractors` contractors."""
    manager = stack.headers(Role.MANAGER, "manager")
    with httpx.Client(base_url=intake.base_url, timeout=300) as http:
        client = _created(http.post("/v1/clients", json={"name": "Bench Co"}, headers=manager))
        client_headers = stack.headers(Role.CLIENT, "client", UUID(client["id"]))
        how = load_items(http, client_headers, items)
        headers, ids = [], []
        for number in range(contractors):
            body = {"name": f"bench keyer {number}", "skills": []}
            contractor = _created(http.post("/v1/contractors", json=body, headers=manager))
            headers.append(stack.headers(Role.CONTRACTOR, contractor["id"]))
            ids.append(UUID(contractor["id"]))
    return Work(_describe(how, items), headers, ids, client_headers)


def add_work(intake: Served, client_headers: Mapping[str, str], items: int) -> str:
    """Another job of `items` items for the same client: the SQL baseline's own queue."""
    with httpx.Client(base_url=intake.base_url, timeout=300) as http:
        return _describe(load_items(http, client_headers, items), items)


def load_items(http: httpx.Client, client_headers: Mapping[str, str], items: int) -> list[str]:
    """A job of `items` items through the API, 10,000 a request; what each request was."""
    batches = [
        range(first, min(first + MAX_ITEMS_PER_REQUEST, items))
        for first in range(0, items, MAX_ITEMS_PER_REQUEST)
    ]
    job = _created(http.post("/v1/jobs", json=_job(batches[0]), headers=client_headers))
    how = ["POST /v1/jobs"]
    add_items = f"/v1/jobs/{job['id']}/items"
    paths = http.get("/openapi.json").json().get("paths", {})
    can_add = "post" in paths.get("/v1/jobs/{job_id}/items", {})
    for batch in batches[1:]:
        if can_add:
            added = http.post(add_items, json={"items": _items(batch)}, headers=client_headers)
            if added.is_success and added.json().get("accepted") == len(batch):
                how.append("POST /v1/jobs/{id}/items")
                continue
            can_add = False
            print(f"POST {add_items}: {added.status_code}; adding jobs instead", file=sys.stderr)
        _created(http.post("/v1/jobs", json=_job(batch), headers=client_headers))
        how.append("POST /v1/jobs (another job, same spec)")
    return how


def analyze(stack: BenchStack) -> None:
    """Give the planner statistics on the loaded rows now, as autovacuum does a minute or so
    after a bulk load; until then the claim query's plan reads every queued task."""

    async def run() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(stack.urls.database_urls["intake"]))
        try:
            await connection.execute("ANALYZE")
        finally:
            await connection.close()

    asyncio.run(run())


def _describe(how: Sequence[str], items: int) -> str:
    counted = ", ".join(f"{n} x {what}" for what, n in Counter(how).items())
    return f"{items:,} items in {len(how)} requests ({counted})"


def _job(numbers: range) -> dict[str, Any]:
    return {"work_type": "bench.invoice", "fields": FIELDS, "qc": {"mode": "single"},
            "items": _items(numbers)}  # fmt: skip


def _items(numbers: range) -> list[dict[str, Any]]:
    return [{"external_id": f"doc-{n}", "source": {"page": n}} for n in numbers]


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


# The report


@dataclass(frozen=True)
class Run:
    date: str
    python: str
    cores: int
    pinning: str
    load_average: float
    uvicorn: str
    generator_loop: str
    work: str
    statistics: str
    contractors: int
    warmup_s: float
    duration_s: float
    product: Figures
    baseline: Figures
    sql: Figures
    sql_connections: int
    sql_work: str

    @property
    def ratio(self) -> float:
        return self.product.requests_per_s / self.baseline.requests_per_s

    @property
    def sql_ratio(self) -> float:
        return self.product.cycles_per_s / self.sql.cycles_per_s if self.sql.cycles_per_s else 0.0


def report(run: Run) -> str:
    product, baseline, sql = run.product, run.baseline, run.sql

    def ms(figures: Figures, label: str, which: int) -> str:
        values = figures.latency_ms.get(label)
        return "-" if values is None else f"{values[which]:.1f}"

    def cpu(figures: Figures, name: str) -> str:
        return f"{figures.cpu_percent[name]:.0f}" if name in figures.cpu_percent else "-"

    product_cpu = product.cpu_ms_per_request("server")
    cpu_ratio = baseline.cpu_ms_per_request("server") / product_cpu if product_cpu else 0.0
    rows = [
        ("requests/s (2xx)", f"{product.requests_per_s:,.0f}", f"{baseline.requests_per_s:,.0f}",
         f"{run.ratio:.3f}", f">= {TARGET_RATIO}"),
        ("cycles/s (claim + submit)", f"{product.cycles_per_s:,.1f}", "-", "", ""),
        (f"cycles/s, baseline: the SQL alone, {run.sql_connections} connections",
         f"{product.cycles_per_s:,.1f}", f"{sql.cycles_per_s:,.1f}", f"{run.sql_ratio:.3f}",
         f">= {TARGET_SQL_RATIO}"),
        ("  SQL alone: claim p50 / p99 (ms)", "-",
         f"{ms(sql, 'claim', 0)} / {ms(sql, 'claim', 1)}", "", ""),
        ("  SQL alone: submit p50 / p99 (ms)", "-",
         f"{ms(sql, 'submit', 0)} / {ms(sql, 'submit', 1)}", "", ""),
        ("  SQL alone: driver CPU (% of its core)", "-", cpu(sql, "generator"), "", ""),
        ("  SQL alone: PostgreSQL CPU (% of a core)", "-", cpu(sql, "postgres"), "", ""),
        ("  SQL alone: errors, other processes CPU (%)", "-",
         f"{sql.errors}, {cpu(sql, 'others')}", "", "0"),
        ("cycle latency p50 (ms)", ms(product, "cycle", 0), "-", "", ""),
        ("cycle latency p99 (ms)", ms(product, "cycle", 1), "-", "", ""),
        ("request latency p50 (ms)", ms(product, "request", 0), ms(baseline, "request", 0), "", ""),
        ("request latency p99 (ms)", ms(product, "request", 1), ms(baseline, "request", 1), "", ""),
        ("claim p50 / p99 (ms)", f"{ms(product, 'claim', 0)} / {ms(product, 'claim', 1)}",
         "-", "", ""),
        ("submit p50 / p99 (ms)", f"{ms(product, 'submit', 0)} / {ms(product, 'submit', 1)}",
         "-", "", ""),
        ("errors (non-2xx, transport)", str(product.errors), str(baseline.errors), "", "0"),
        ("empty claims (queue ran dry)", str(product.empty_claims), "-", "", "0"),
        ("server CPU per request (ms), ratio b/p", f"{product.cpu_ms_per_request('server'):.2f}",
         f"{baseline.cpu_ms_per_request('server'):.2f}", f"{cpu_ratio:.3f}", ""),
        ("  of which in the kernel (ms)", f"{product.cpu_ms_per_request('server-kernel'):.2f}",
         f"{baseline.cpu_ms_per_request('server-kernel'):.2f}", "", ""),
        ("generator CPU per request (ms)", f"{product.cpu_ms_per_request('generator'):.2f}",
         f"{baseline.cpu_ms_per_request('generator'):.2f}", "", ""),
        ("server CPU (% of its core)", cpu(product, "server"), cpu(baseline, "server"), "", ""),
        ("generator CPU (% of its core)", cpu(product, "generator"), cpu(baseline, "generator"),
         "", ""),
        ("PostgreSQL CPU (% of a core)", cpu(product, "postgres"), cpu(baseline, "postgres"),
         "", ""),
        ("NATS CPU (% of a core)", cpu(product, "nats"), cpu(baseline, "nats"), "", ""),
        ("other processes CPU (% of a core)", cpu(product, "others"), cpu(baseline, "others"),
         "", "0"),
        ("hypervisor steal (% of a core)", cpu(product, "steal"), cpu(baseline, "steal"), "", ""),
    ]  # fmt: skip
    header = ("figure", "product", "baseline", "ratio", "target")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"  # fmt: skip
    lines = [
        "claim then submit over HTTP: product = intake service, baseline = no-op FastAPI endpoint",
        f"date {run.date} | Python {run.python} | {run.cores} cores | {run.pinning} | "
        f"load average at start {run.load_average:.2f}",
        f"uvicorn: 1 worker, {run.uvicorn}, --no-access-log | generator: {run.contractors} "
        f"workers, httpx keep-alive, {run.generator_loop} | PostgreSQL durable (fsync on)",
        f"work: {run.work}; planner statistics: {run.statistics}; "
        f"{run.warmup_s:g} s warm-up, {run.duration_s:g} s measured",
        f"SQL baseline: repository.claims.claim_tasks, held_task and submit_task (the statements "
        f"the two requests send) on {run.sql_connections} connections from one process, "
        f"{run.generator_loop}, on the generator's core, intake stopped; its own queue: "
        f"{run.sql_work}; measured {sql.seconds:.1f} s",
        "",
        line(header),
        rule,
        *(line(row) for row in rows),
    ]
    for name, figures in (("product", product), ("baseline", baseline), ("SQL baseline", sql)):
        for what, count in figures.error_kinds.items():
            lines.append(f"{name} error x{count}: {what}")
    if baseline.cpu_percent.get("server", 0) < 80:
        lines.append(
            f"note: the no-op server kept {100 - baseline.cpu_percent.get('server', 0):.0f}% of "
            "its core idle: the baseline rate is what the generator could send, not what the "
            "no-op server can serve, so the requests/s ratio overstates the product; the "
            "ratio of server CPU per request (baseline / product) does not depend on the generator"
        )
    busiest = max(product.cpu_percent.get("others", 0), baseline.cpu_percent.get("others", 0))
    if busiest >= 15:
        lines.append(
            f"note: other processes on this machine used up to {busiest:.0f}% of a core while "
            "measuring; the figures are disturbed, run again on a quiet machine"
        )
    if product.empty_claims:
        lines.append("note: the queue ran dry during the measurement; run again with more --items")
    if sql.empty_claims:
        lines.append(
            f"note: the SQL baseline emptied its queue; its window ended then ({sql.seconds:.1f} s)"
        )
    return "\n".join(lines)


# Entry point


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=20_000, help="items in the job")
    parser.add_argument("--contractors", type=int, default=32, help="concurrent contractors")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument(
        "--cold-statistics",
        action="store_true",
        help="measure right after the load, before PostgreSQL has statistics on the new rows",
    )
    parser.add_argument(
        "--sql-items", type=int, default=40_000, help="items in the SQL baseline's own job"
    )
    parser.add_argument(
        "--sql-connections", type=int, default=16, help="connections of the SQL baseline"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 3,000 items, 1 s warm-up, 4 s measured"
    )
    args = parser.parse_args()
    if args.quick:
        args.items, args.sql_items, args.warmup, args.duration = 3_000, 3_000, 1.0, 4.0
    if min(args.items, args.sql_items, args.contractors, args.sql_connections) < 1:
        parser.error("--items, --sql-items, --contractors and --sql-connections must be positive")
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    return args


def main() -> int:
    args = _arguments()
    load_average = os.getloadavg()[0]
    # Ctrl-C, kill and a closed terminal all stop the run through the same cleanup, even
    # when this process was started with SIGINT ignored (a background job of a script).
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _interrupted)
    split = core_split()
    server_cpus, generator_cpus = split if split else (None, None)
    if split:
        pinning = (
            f"server on core {min(split[0])}, generator on core {min(split[1])}, "
            "PostgreSQL and NATS unpinned"
        )
    else:
        pinning = "affinity NOT possible (one usable core): server and generator share it"

    def plan(
        mode: Mode, server: Served, stack: BenchStack, headers: Sequence[Mapping[str, str]]
    ) -> LoadPlan:
        return LoadPlan(
            mode=mode,
            base_url=server.base_url,
            headers=headers,
            warmup_s=args.warmup,
            duration_s=args.duration,
            cpus=generator_cpus,
            server_pid=server.pid,
            postmaster_pid=stack.postmaster_pid(),
            nats_pid=stack.nats_pid(),
        )

    try:
        with bench_stack() as stack:
            env = stack.environment()
            print(f"stack up under {stack.root}; loading work", file=sys.stderr)
            with served("intake", env, stack.root / "intake.log", server_cpus) as intake:
                registered = max(args.contractors, args.sql_connections)
                work = prepare(intake, stack, args.items, registered)
                headers = work.headers[: args.contractors]
                if not args.cold_statistics:
                    analyze(stack)
                print(f"intake pid {intake.pid}: {work.description}; driving it", file=sys.stderr)
                product = run_load(plan("keyers", intake, stack, headers))
                sql_work = add_work(intake, work.client_headers, args.sql_items)
            if not args.cold_statistics:
                analyze(stack)
            print(f"SQL baseline: {sql_work}; driving it", file=sys.stderr)
            sql = run_sql(
                SqlPlan(
                    database_url=stack.urls.database_urls["intake"],
                    contractor_ids=work.contractor_ids[: args.sql_connections],
                    warmup_s=args.warmup,
                    duration_s=args.duration,
                    cpus=generator_cpus,
                    postmaster_pid=stack.postmaster_pid(),
                    nats_pid=stack.nats_pid(),
                )
            )
            noop_env = env | bench_module_environment()
            with served("noop", noop_env, stack.root / "noop.log", server_cpus) as noop:
                print(f"no-op pid {noop.pid}: driving it", file=sys.stderr)
                baseline = run_load(plan("noop", noop, stack, headers))
    except KeyboardInterrupt:
        print("interrupted: the services and the stack are stopped", file=sys.stderr)
        return 130
    run = Run(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        python=platform.python_version(),
        cores=os.cpu_count() or 0,
        pinning=pinning,
        load_average=load_average,
        uvicorn=uvicorn_implementations(),
        generator_loop=product.loop,
        work=work.description,
        statistics="cold (as the load left them)" if args.cold_statistics else "ANALYZE after load",
        contractors=args.contractors,
        warmup_s=args.warmup,
        duration_s=args.duration,
        product=figures(product),
        baseline=figures(baseline),
        sql=figures(sql),
        sql_connections=min(args.sql_connections, len(work.contractor_ids)),
        sql_work=sql_work,
    )
    print(report(run))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        body = {**asdict(run), "ratio": run.ratio, "sql_ratio": run.sql_ratio}
        args.json.write_text(json.dumps(body, indent=2) + "\n")
    print(result_line(run))
    return 0


def result_line(run: Run) -> str:
    """The machine-readable last line every benchmark prints (see bench/README.md)."""
    server_cpu = run.product.cpu_ms_per_request("server")
    figures = [
        {"figure": "claim + submit over HTTP vs a no-op endpoint (requests/s)",
         "product": round(run.product.requests_per_s, 1),
         "baseline": round(run.baseline.requests_per_s, 1),
         "unit": "requests/s", "ratio": round(run.ratio, 3), "target": TARGET_RATIO},
        {"figure": f"claim + submit over HTTP vs the same SQL on {run.sql_connections} "
                   "connections (cycles/s)",
         "product": round(run.product.cycles_per_s, 1),
         "baseline": round(run.sql.cycles_per_s, 1),
         "unit": "cycles/s", "ratio": round(run.sql_ratio, 3), "target": TARGET_SQL_RATIO},
        {"figure": "server CPU per request, no-op / intake (informational)",
         "product": round(server_cpu, 3),
         "baseline": round(run.baseline.cpu_ms_per_request("server"), 3),
         "unit": "ms CPU/request",
         "ratio": round(run.baseline.cpu_ms_per_request("server") / server_cpu, 3)
         if server_cpu else 0.0,
         "target": None},
    ]  # fmt: skip
    notes = [
        f"{run.contractors} contractors over HTTP (httpx, {run.generator_loop}, pinned to one "
        f"core; intake pinned to the other); load average at start {run.load_average:.2f}",
        f"other processes CPU (% of a core): product {run.product.cpu_percent.get('others', 0):.0f}"
        f", no-op {run.baseline.cpu_percent.get('others', 0):.0f}, "
        f"SQL {run.sql.cpu_percent.get('others', 0):.0f}",
    ]
    if run.product.errors or run.sql.errors:
        notes.append(f"errors: product {run.product.errors}, SQL baseline {run.sql.errors}")
    http_load = (
        f"{run.contractors} contractors, each an httpx AsyncClient with one "
        f"keep-alive connection, on {run.generator_loop} in one process ({run.pinning}); "
        "the SQL baseline sends no HTTP"
    )
    result = {"name": "claim_submit", "figures": figures, "notes": notes, "http_load": http_load}
    return "RESULT " + json.dumps(result)


if __name__ == "__main__":
    sys.exit(main())
