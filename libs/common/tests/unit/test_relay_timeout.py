"""A relay pass ends within its publish timeout, whatever the NATS client does."""

import asyncio
from types import SimpleNamespace
from typing import Any

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import async_sessionmaker

from bpo_common.ids import new_id
from bpo_common.relay import OutboxRelay


class _StuckClient(Client):
    """A client whose server stopped reading: a publish waits until the server reads again
    (`reading`) or it is cancelled; the first time, as nats-py's flush does, it eats the
    cancellation and returns."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.ate_a_cancellation = False

    async def subscribe(self, *args: Any, **kwargs: Any) -> Any:
        return None

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        try:
            await self.reading.wait()
        except asyncio.CancelledError:
            if self.ate_a_cancellation:
                raise
            self.ate_a_cancellation = True


async def test_a_publish_the_client_holds_fails_the_rows_within_the_publish_timeout() -> None:
    client = _StuckClient()
    relay = OutboxRelay(async_sessionmaker(), client.jetstream(), publish_timeout_s=0.2)
    rows = [SimpleNamespace(id=new_id(), subject="bpo.test.probe", payload=b"{}") for _ in range(3)]
    clock = asyncio.get_running_loop().time
    started = clock()

    publishing = asyncio.create_task(relay._publish(rows))
    try:
        await asyncio.wait({publishing}, timeout=5)
        assert publishing.done(), "the pass still waits on the client"
    finally:
        client.reading.set()

    assert clock() - started < 1
    assert [repr(result) for result in await publishing] == [
        "TimeoutError('no ack from JetStream in time')",
        "TimeoutError('not handed to NATS in time')",
        "TimeoutError('not handed to NATS in time')",
    ]
