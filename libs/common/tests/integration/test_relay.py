"""The outbox relay against real PostgreSQL and JetStream."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError
from prometheus_client import REGISTRY
from sqlalchemy import delete, insert, select
from structlog.testing import capture_logs

from bpo_common.events import STREAM_NAME
from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.outbox import publish, publish_many
from bpo_common.relay import OutboxRelay
from bpo_common.tables import outbox_event
from bpo_devtools.testing import background, consumer_drained, eventually

from .conftest import Plumbing, ProbeRecorded


class RelayDied(Exception):
    pass


def _publish_failures() -> float:
    return REGISTRY.get_sample_value("bpo_outbox_publish_failures_total") or 0


async def _stream_messages(js: JetStreamContext) -> int:
    return (await js.stream_info(STREAM_NAME)).state.messages


async def test_relay_dying_before_it_commits_publishes_again_and_consumer_applies_once(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    while await OutboxRelay(plumbing.sessions, js).relay_once():
        pass  # earlier tests' leftovers (dead-letter events) would blur the counts below
    async with plumbing.sessions() as session, session.begin():
        envelopes = await publish_many(session, [ProbeRecorded(run=run, n=n) for n in range(5)])
    ids = [envelope.id for envelope in envelopes]
    published: list[UUID] = []

    async def die(sent: Sequence[UUID]) -> None:
        published.extend(sent)
        raise RelayDied

    before = await _stream_messages(js)
    with pytest.raises(RelayDied):
        await OutboxRelay(plumbing.sessions, js, after_publish=die).relay_once()
    assert sorted(published) == sorted(ids)
    assert await _stream_messages(js) == before + 5
    assert await plumbing.unsent(ids) == 5, "rows of a relay that died stay unsent"

    assert await OutboxRelay(plumbing.sessions, js).relay_once() == 5
    assert await plumbing.unsent(ids) == 0
    assert await _stream_messages(js) == before + 5, "JetStream dropped the copies by Nats-Msg-Id"

    # A copy from outside JetStream's duplicate window, sent here without a Nats-Msg-Id,
    # must still be applied only once: the inbox drops it.
    first = envelopes[0]
    await js.publish(first.subject, first.model_dump_json().encode())

    consumer = f"relay-crash-{run}"
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run)}),
        plumbing.sessions,
        js,
    )
    async with background(inbox.run()):
        await eventually(lambda: plumbing.applied_at_least(consumer, 5), what="5 effects")
        await eventually(
            lambda: consumer_drained(js, consumer), what="the consumer to ack everything"
        )
    assert await plumbing.effects(consumer) == [0, 1, 2, 3, 4]


async def test_relays_side_by_side_take_batches_of_their_own(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    while await OutboxRelay(plumbing.sessions, js).relay_once():
        pass
    async with plumbing.sessions() as session, session.begin():
        envelopes = await publish_many(session, [ProbeRecorded(run=run, n=n) for n in range(20)])
    ids = [envelope.id for envelope in envelopes]  # one transaction: one created_at for all
    batches: list[list[UUID]] = [[], [], []]
    release = asyncio.Event()

    async def held_open(sent: Sequence[UUID]) -> None:
        batches[0].extend(sent)
        await release.wait()

    def recorded(batch: list[UUID]) -> Callable[[Sequence[UUID]], Awaitable[None]]:
        async def record(sent: Sequence[UUID]) -> None:
            batch.extend(sent)

        return record

    first = asyncio.create_task(
        OutboxRelay(plumbing.sessions, js, batch_size=7, after_publish=held_open).relay_once()
    )

    async def first_published() -> bool:
        return bool(batches[0])

    await eventually(first_published, what="the first relay's batch")
    # While the first relay holds its batch, a second takes the next rows, never the same.
    second = OutboxRelay(plumbing.sessions, js, batch_size=7, after_publish=recorded(batches[1]))
    assert await second.relay_once() == 7
    release.set()
    assert await first == 7
    third = OutboxRelay(plumbing.sessions, js, batch_size=7, after_publish=recorded(batches[2]))
    assert await third.relay_once() == 6
    assert [len(batch) for batch in batches] == [7, 7, 6]
    assert set().union(*batches) == set(ids), "each row once, in one batch"
    assert all(batch == sorted(batch) for batch in batches), "within a batch, as written"
    assert await plumbing.unsent(ids) == 0


async def test_one_transactions_events_go_in_the_order_written_across_batches(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """Rows of one transaction share their created_at; stored in another order than their
    ids' (as rows come to lie once the pruner has freed room), the earliest still go first."""
    run = str(new_id())
    while await OutboxRelay(plumbing.sessions, js).relay_once():
        pass
    async with plumbing.sessions() as session, session.begin():
        envelopes = await publish_many(session, [ProbeRecorded(run=run, n=n) for n in range(6)])
        ids = [envelope.id for envelope in envelopes]
        rows = (await session.execute(select(outbox_event).where(outbox_event.c.id.in_(ids)))).all()
        await session.execute(delete(outbox_event).where(outbox_event.c.id.in_(ids)))
        by_id = {row.id: row._asdict() for row in rows}
        for event_id in reversed(ids):
            await session.execute(insert(outbox_event).values(by_id[event_id]))

    first: list[UUID] = []

    async def record(sent: Sequence[UUID]) -> None:
        first.extend(sent)

    assert await OutboxRelay(plumbing.sessions, js, batch_size=3, after_publish=record).relay_once()
    assert first == ids[:3]


async def test_outbox_row_committed_after_a_later_row_is_still_published(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    relay = OutboxRelay(plumbing.sessions, js)
    async with plumbing.sessions() as slow, slow.begin():
        early = await publish(slow, ProbeRecorded(run=run, n=1))
        async with plumbing.sessions() as fast, fast.begin():
            late = await publish(fast, ProbeRecorded(run=run, n=2))
        assert early.time < late.time
        await relay.relay_once()
        assert await plumbing.unsent([late.id]) == 0
    assert await plumbing.unsent([early.id]) == 1, "committed now, after the later row was sent"
    await relay.relay_once()
    assert await plumbing.unsent([early.id, late.id]) == 0

    consumer = f"out-of-order-{run}"
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run)}),
        plumbing.sessions,
        js,
    )
    async with background(inbox.run()):
        await eventually(lambda: plumbing.applied_at_least(consumer, 2), what="both effects")
    assert await plumbing.effects(consumer) == [1, 2]


async def test_a_row_jetstream_refuses_stays_unsent_with_its_error_and_the_rest_are_sent(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    relay = OutboxRelay(plumbing.sessions, js)
    while await relay.relay_once():
        pass
    # No stream takes this subject: JetStream answers the publish with an error.
    async with plumbing.stray_row("nowhere.probe", b"{}") as refused:
        async with plumbing.sessions() as session, session.begin():
            sent = await publish(session, ProbeRecorded(run=run, n=1))
        failures = _publish_failures()
        assert await relay.relay_once() == 1
        assert await plumbing.unsent([sent.id]) == 0
        assert await plumbing.unsent([refused]) == 1
        with pytest.raises(NoStreamResponseError):
            await relay.relay_once()  # a batch with nothing sent fails, so the loop backs off
        assert await plumbing.publish_failures(refused) == (2, "NoStreamResponseError()")
        assert _publish_failures() == failures + 2, "each failed attempt counted once"
        assert await plumbing.unsent([refused]) == 1, "still waiting for the next attempt"


async def test_a_row_larger_than_the_server_takes_fails_alone_and_the_rest_are_sent(
    plumbing: Plumbing, js: JetStreamContext, nats_client: NATS
) -> None:
    relay = OutboxRelay(plumbing.sessions, js)
    while await relay.relay_once():
        pass
    too_large = b"x" * (nats_client.max_payload + 1)
    async with plumbing.stray_row("bpo.test.probe.recorded", too_large) as refused:
        async with plumbing.sessions() as session, session.begin():
            after = await publish(session, ProbeRecorded(run=str(new_id()), n=1))
        failures = _publish_failures()
        with capture_logs() as logs:
            assert await relay.relay_once() == 1, "the row written after it is sent"
        assert await plumbing.unsent([after.id]) == 0
        assert await plumbing.publish_failures(refused) == (1, "MaxPayloadError()")
        assert await plumbing.unsent([refused]) == 1
        # Though the pass sent a row, the one it could not send is told of.
        assert _publish_failures() == failures + 1
        assert [
            (log["event_type"], log["event_id"], log["error"])
            for log in logs
            if log["event"] == "outbox event not published, left for the next pass"
        ] == [("bpo.test.probe.recorded", str(refused), "MaxPayloadError()")]
        assert "xxxx" not in repr(logs), "the payload is never logged"


async def test_a_row_too_large_with_its_headers_fails_alone_and_the_connection_stays(
    plumbing: Plumbing, js: JetStreamContext, nats_client: NATS
) -> None:
    relay = OutboxRelay(plumbing.sessions, js)
    while await relay.relay_once():
        pass
    # Within the server's limit alone, past it with the event id the message carries as a
    # header, which the server counts too.
    almost = b"x" * (nats_client.max_payload - 10)
    async with plumbing.stray_row("bpo.test.probe.recorded", almost) as refused:
        async with plumbing.sessions() as session, session.begin():
            after = await publish(session, ProbeRecorded(run=str(new_id()), n=1))
        reconnects = nats_client.stats["reconnects"]
        assert await relay.relay_once() == 1, "the row written after it is sent"
        assert await plumbing.unsent([after.id]) == 0
        assert await plumbing.publish_failures(refused) == (1, "MaxPayloadError()")
        assert nats_client.stats["reconnects"] == reconnects, "the server kept the connection"


async def test_a_row_that_keeps_failing_does_not_slow_the_rows_behind_it(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    while await OutboxRelay(plumbing.sessions, js).relay_once():
        pass
    async with plumbing.stray_row("nowhere.probe", b"{}"):
        async with plumbing.sessions() as session, session.begin():
            envelopes = await publish_many(
                session, [ProbeRecorded(run=str(new_id()), n=n) for n in range(20)]
            )
        ids = [envelope.id for envelope in envelopes]
        # Batches of 5, each with the refused row first; a wait of a minute between batches
        # that were not full would leave most rows unsent for minutes.
        relay = OutboxRelay(plumbing.sessions, js, batch_size=5, idle_wait_s=60)

        async def all_sent() -> bool:
            return await plumbing.unsent(ids) == 0

        async with background(relay.run()):
            await eventually(all_sent, timeout_s=20, what="every row behind the refused one")
