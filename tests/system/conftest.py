"""The four services as real processes against the test run's PostgreSQL and NATS."""

import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from uuid import UUID

import httpx
import pytest

from bpo_common.settings import SERVICES
from bpo_devtools import servers
from bpo_devtools.testing import TestStack, Tokens


@dataclass
class RunningServices:
    stack: TestStack
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, *services: str) -> None:
        env = self.stack.service_environment(self.ports)
        for service in services:
            log = self.stack.root / f"{service}.log"
            port = self.ports[service]
            self.processes[service] = servers.start_service(service, env, port, log)
        servers.wait_ready({service: self.ports[service] for service in services})

    def kill(self, service: str) -> None:
        process = self.processes.pop(service)
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def services(stack: TestStack) -> Iterator[RunningServices]:
    running = RunningServices(stack, {s: servers.free_port() for s in SERVICES})
    try:
        running.start(*SERVICES)
        yield running
    finally:
        servers.stop_services(running.processes)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def register_client(
    http: httpx.AsyncClient, services: RunningServices, tokens: Tokens, name: str
) -> UUID:
    response = await http.post(
        f"{services.url('intake')}/v1/clients", json={"name": name}, headers=tokens.manager()
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])
