"""A service killed with SIGKILL while events flow, and started again, loses nothing."""

import asyncio

import httpx

from bpo_common.messaging import connect
from bpo_devtools.servers import Services
from bpo_devtools.testing import TestStack, Tokens, consumer_drained, eventually

from .conftest import register_client

JOBS = 30
ITEMS_PER_JOB = 20


async def test_reporting_killed_mid_flow_and_restarted_counts_every_item_exactly_once(
    services: Services, stack: TestStack, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    client_id = await register_client(http, services, tokens, "Kill Test Ltd")
    as_client = tokens.client(client_id)
    overview_url = f"{services.url('reporting')}/v1/reports/overview?client_id={client_id}"

    async def push_jobs() -> None:
        for n in range(JOBS):
            response = await http.post(
                f"{services.url('intake')}/v1/jobs",
                headers=as_client,
                json={
                    "work_type": "kill_test",
                    "fields": [{"name": "value", "type": "string"}],
                    "items": [{"source": {"job": n, "item": i}} for i in range(ITEMS_PER_JOB)],
                },
            )
            assert response.status_code == 201, response.text
            await asyncio.sleep(0.05)

    pushing = asyncio.create_task(push_jobs())
    await asyncio.sleep(0.5)
    await asyncio.to_thread(services.kill, "reporting")
    await asyncio.sleep(0.5)
    await asyncio.to_thread(services.start, "reporting")
    await pushing

    async def items_received() -> int:
        response = await http.get(overview_url, headers=tokens.manager())
        assert response.status_code == 200, response.text
        count: int = response.json()["items_received"]
        return count

    async def all_counted() -> bool:
        return await items_received() >= JOBS * ITEMS_PER_JOB

    await eventually(all_counted, timeout_s=60, what="every item to be counted")
    # What the killed process had applied but not acked is delivered again after the ack
    # wait; once the consumer has nothing pending, the count must still be the truth.
    client = await connect(stack.urls.nats_url, name="kill-test")
    try:
        await eventually(
            lambda: consumer_drained(client.jetstream(), "reporting"),
            what="reporting's consumer to drain",
        )
    finally:
        await client.close()
    assert await items_received() == JOBS * ITEMS_PER_JOB
