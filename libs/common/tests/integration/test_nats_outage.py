"""NATS going away and coming back while events flow: nothing lost, nothing applied twice."""

import asyncio

import nats
from nats.errors import OutboundBufferLimitError

from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.messaging import connect, ensure_stream, replay
from bpo_common.outbox import publish, publish_many
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


async def test_a_relay_failing_pass_after_pass_while_nats_is_away_publishes_everything_when_back(
    plumbing: Plumbing, stack: TestStack
) -> None:
    server = NatsServer(stack.root / "nats-relay-outage", free_port())
    server.start()
    # A reconnect buffer that two passes fill (a service's 2 MB takes more rows), and a
    # context with twice a batch's publish permits: passes that each kept one for good, as
    # nats-py's publish_async does when the client refuses a message, would stop the relay
    # here within the outage's first seconds.
    client = await nats.connect(
        server.url,
        name="relay-outage-test",
        pending_size=8 * 1024,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
    )
    try:
        js = client.jetstream(publish_async_max_pending=20)
        await ensure_stream(js)
        relay = OutboxRelay(
            plumbing.sessions, js, batch_size=10, publish_timeout_s=0.3, max_backoff_s=0.1
        )
        while await relay.relay_once():
            pass  # earlier tests' leftovers
        await asyncio.to_thread(server.stop)

        async def away() -> bool:
            return not client.is_connected

        await eventually(away, what="the client to see NATS gone")
        run = str(new_id())
        async with plumbing.sessions() as session, session.begin():
            envelopes = await publish_many(
                session, [ProbeRecorded(run=run, n=n) for n in range(100)]
            )
        ids = [envelope.id for envelope in envelopes]

        errors: list[type[BaseException]] = []
        for attempt in range(30):
            relaying = asyncio.create_task(relay.relay_once())
            done, _ = await asyncio.wait({relaying}, timeout=5)
            if not done:
                relaying.cancel()
                raise AssertionError(f"pass {attempt + 1} of the outage hung: {errors}")
            error = relaying.exception()
            assert error is not None, "nothing can be acked while NATS is away"
            errors.append(type(error))
        assert set(errors) <= {OutboundBufferLimitError, TimeoutError}, errors
        assert errors.count(OutboundBufferLimitError) >= 25, "the client's buffer was full"
        assert await plumbing.unsent(ids) == 100

        await asyncio.to_thread(server.start)

        async def all_sent() -> bool:
            return await plumbing.unsent(ids) == 0

        async with background(relay.run()):
            await eventually(all_sent, what="every row published once NATS is back")
        wanted = set(ids)
        stored = [e.id async for e in replay(js, [ProbeRecorded.event_type]) if e.id in wanted]
        assert sorted(stored) == sorted(ids), "each event on the stream once"
    finally:
        await client.close()
        server.stop()
