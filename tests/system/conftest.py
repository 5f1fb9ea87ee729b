"""The four services as real processes against the test run's PostgreSQL and NATS."""

from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import httpx
import pytest

from bpo_common.settings import SERVICES
from bpo_devtools import servers
from bpo_devtools.testing import TestStack, Tokens


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The contract test's generated requests run last: as a manager they put qualifications
    on the work types of the jobs they list, and a later test's keyers of such a work type
    (the demo's "invoice", say) would be handed that set's items instead of their job's."""
    items.sort(key=lambda item: item.path.name == "test_api_contract.py")


@pytest.fixture(scope="session")
def services(stack: TestStack) -> Iterator[servers.Services]:
    ports = {service: servers.free_port() for service in SERVICES}
    running = servers.Services(stack.service_environment(ports), ports, stack.root / "logs")
    try:
        running.start(*SERVICES)
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def register_client(
    http: httpx.AsyncClient, services: servers.Services, tokens: Tokens, name: str
) -> UUID:
    response = await http.post(
        f"{services.url('intake')}/v1/clients", json={"name": name}, headers=tokens.manager()
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])
