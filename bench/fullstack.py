"""The whole product for a benchmark: durable PostgreSQL and NATS on free ports, and the four
services under uvicorn as their own processes, as `make run` starts them.

Everything lives under `.run/bench/<pid>` and is removed at the end (bench/README.md).
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from bpo_common import devstack
from bpo_common.auth import ensure_key_pair

REPO_ROOT = Path(__file__).resolve().parent.parent


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
