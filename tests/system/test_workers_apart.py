"""Each service's API and its background work as processes of their own (`bpo serve` and
`bpo worker`): the APIs answer, the workers answer only their probes, and events still flow
from one service to the others."""

from collections.abc import Iterator

import httpx
import pytest

from bpo_common.settings import SERVICES
from bpo_devtools import servers
from bpo_devtools.testing import TestStack, Tokens, eventually


@pytest.fixture(scope="module")
def apart(stack: TestStack) -> Iterator[servers.Services]:
    ports = {service: servers.free_port() for service in SERVICES}
    running = servers.Services(
        stack.service_environment(ports),
        ports,
        stack.root / "logs-apart",
        apart=True,
        worker_ports={service: servers.free_port() for service in SERVICES},
    )
    try:
        running.start(*SERVICES)
        yield running
    finally:
        running.stop()


async def test_apis_and_workers_apart_serve_and_carry_events(
    apart: servers.Services, tokens: Tokens
) -> None:
    assert sorted(apart.processes) == sorted(
        name for service in SERVICES for name in (service, f"{service}-worker")
    )
    async with httpx.AsyncClient(timeout=30) as http:
        worker = f"http://127.0.0.1:{apart.worker_ports['intake']}"
        assert (await http.get(f"{worker}/readyz")).json()["status"] == "ready"
        assert (await http.get(f"{worker}/v1/jobs", headers=tokens.manager())).status_code == 404

        client = await http.post(
            f"{apart.url('intake')}/v1/clients", json={"name": "Apart"}, headers=tokens.manager()
        )
        as_client = tokens.client(client.json()["id"])
        job = await http.post(
            f"{apart.url('intake')}/v1/jobs",
            json={"work_type": "apart", "fields": [{"name": "value", "type": "string"}]},
            headers=as_client,
        )
        assert job.status_code == 201, job.text
        rules = f"{apart.url('validation')}/v1/jobs/{job.json()['id']}/rules"

        async def known_to_validation() -> bool:
            return (await http.get(rules, headers=as_client)).status_code == 200

        await eventually(known_to_validation, what="the job to reach validation's worker")
