"""NATS going away and coming back while events flow: nothing lost, nothing applied twice."""

import asyncio

from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.messaging import connect, ensure_stream
from bpo_common.outbox import publish
from bpo_common.relay import OutboxRelay
from bpo_devtools.servers import NatsServer, free_port
from bpo_devtools.testing import TestStack, background, eventually

from .conftest import Plumbing, ProbeRecorded

EVENTS = 200


async def test_nats_stopped_for_five_seconds_while_events_flow_loses_nothing_applies_nothing_twice(
    plumbing: Plumbing, stack: TestStack
) -> None:
    server = NatsServer(stack.root / "nats-outage", free_port())
    server.start()
    client = await connect(server.url, name="outage-test")
    try:
        js = client.jetstream()
        await ensure_stream(js)
        run = str(new_id())
        consumer = f"outage-{run}"
        relay = OutboxRelay(plumbing.sessions, js, publish_timeout_s=2, max_backoff_s=0.5)
        inbox = InboxConsumer(
            Subscription(consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run)}),
            plumbing.sessions,
            js,
        )

        async def produce() -> None:
            for n in range(EVENTS):
                async with plumbing.sessions() as session, session.begin():
                    await publish(session, ProbeRecorded(run=run, n=n))
                await asyncio.sleep(0.025)

        async with background(relay.run()), background(inbox.run()):
            producer = asyncio.create_task(produce())
            await eventually(lambda: plumbing.applied_at_least(consumer, 20), what="first events")
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(5)
            await asyncio.to_thread(server.start)
            await producer
            await eventually(
                lambda: plumbing.applied_at_least(consumer, EVENTS),
                timeout_s=90,
                what=f"all {EVENTS} events after the outage",
            )
            applied_during_outage = await plumbing.effects(consumer)
        assert applied_during_outage == list(range(EVENTS))
    finally:
        await client.close()
        server.stop()
