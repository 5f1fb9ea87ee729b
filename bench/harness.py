"""What the benchmarks run against, under `.run/bench/<pid>` and removed at the end: durable
PostgreSQL and NATS (`stack`: the intake database migrated; `full_stack`: every database
migrated and the four services as their own processes, as `make run` starts them), and the
CPU time processes use around a timed run; and the RESULT line of bench/README.md."""

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from types import FrameType
from typing import Any

from bpo_common import devstack
from bpo_common.auth import ensure_key_pair
from bpo_common.migrations import upgrade

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
    local = devstack.LocalStack(
        root, postgres_port=devstack.free_port(), nats_port=devstack.free_port(), durable=True
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


@dataclass
class FullStack:
    root: Path
    urls: devstack.StackUrls
    private_key_pem: str
    public_key_file: Path
    ports: dict[str, int]
    processes: dict[str, Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, *services: str) -> None:
        env = devstack.service_environment(
            self.urls, jwt_public_key_file=self.public_key_file, ports=self.ports
        ) | {"BPO_LOG_LEVEL": "WARNING"}
        for service in services:
            log = self.root / f"{service}.log"
            self.processes[service] = devstack.start_service(service, env, self.ports[service], log)
        devstack.wait_ready({service: self.ports[service] for service in services})

    def stop(self, *services: str) -> None:
        devstack.stop_services({s: self.processes.pop(s) for s in services})

    def pids(self) -> dict[str, int]:
        return {service: process.pid for service, process in self.processes.items()}


@contextmanager
def full_stack() -> Iterator[FullStack]:
    """Servers migrated and all four services ready; stopped and removed afterwards."""
    root = REPO_ROOT / ".run" / "bench" / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    local = devstack.LocalStack(
        root, postgres_port=devstack.free_port(), nats_port=devstack.free_port(), durable=True
    )
    running: FullStack | None = None
    try:
        urls = local.start()
        devstack.migrate_all(urls.database_urls)
        private, public = ensure_key_pair(root / "jwt")
        ports = {service: devstack.free_port() for service in devstack.SERVICES}
        running = FullStack(root, urls, private.read_text(), public, ports)
        running.start(*devstack.SERVICES)
        yield running
    finally:
        if running is not None:
            devstack.stop_services(running.processes)
        local.stop()
        shutil.rmtree(root, ignore_errors=True)


def result_line(name: str, figures: Sequence[Mapping[str, Any]], notes: Sequence[str]) -> str:
    """The machine-readable last line every benchmark prints (see bench/README.md)."""
    return "RESULT " + json.dumps({"name": name, "figures": list(figures), "notes": list(notes)})


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
