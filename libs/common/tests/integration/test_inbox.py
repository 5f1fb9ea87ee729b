"""The idempotent consumer against real PostgreSQL and JetStream."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.messaging import EventDeadLettered
from bpo_common.events import STREAM_NAME, Envelope, Waiting
from bpo_common.ids import new_id
from bpo_common.inbox import Handler, InboxConsumer, Subscription
from bpo_common.outbox import publish_many
from bpo_common.relay import OutboxRelay
from bpo_devtools.testing import background, consumer_drained, eventually, outbox_events

from .conftest import Plumbing, ProbeCounted, ProbeRecorded


async def _dead_letters(plumbing: Plumbing, consumer: str) -> list[dict[str, object]]:
    async with plumbing.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT event_id, subject, deliveries, error FROM dead_letter "
                "WHERE consumer = :c ORDER BY created_at"
            ),
            {"c": consumer},
        )
        return [dict(row._mapping) for row in rows]


@asynccontextmanager
async def _one_probe_relayed(
    plumbing: Plumbing,
    js: JetStreamContext,
    consumer: str,
    handler: Handler,
    run: str,
    wait_s: float = 86_400.0,
) -> AsyncIterator[None]:
    """One probe of `run` published through the outbox and relayed while the block runs, to
    `consumer` applying it with `handler`: two deliveries 50 ms apart before an event that
    fails is dead-lettered."""
    async with plumbing.sessions() as session, session.begin():
        await publish_many(session, [ProbeRecorded(run=run, n=1)])
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: handler}),
        plumbing.sessions,
        js,
        max_deliver=2,
        wait_s=wait_s,
        backoff_s=0.05,
    )
    async with background(OutboxRelay(plumbing.sessions, js).run()), background(inbox.run()):
        yield


async def test_event_that_always_fails_is_dead_lettered_and_never_blocks_the_others(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    consumer = f"poison-{run}"
    async with plumbing.sessions() as session, session.begin():
        envelopes = await publish_many(session, [ProbeRecorded(run=run, n=n) for n in range(10)])
    poison = envelopes[3]
    inbox = InboxConsumer(
        Subscription(
            consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run, poison=3)}
        ),
        plumbing.sessions,
        js,
        max_deliver=3,
        backoff_s=1.0,
    )
    relay = OutboxRelay(plumbing.sessions, js)
    async with background(relay.run()), background(inbox.run()):
        await eventually(
            lambda: plumbing.applied_at_least(consumer, 9),
            what="the nine good events to be applied",
        )
        # The poison event waits 1 s, then 2 s, between its deliveries: the others did not.
        assert await _dead_letters(plumbing, consumer) == []

        await eventually(
            lambda: _has_dead_letter(plumbing, consumer), what="the poison event's dead letter"
        )
        async with plumbing.sessions() as session, session.begin():
            await publish_many(session, [ProbeRecorded(run=run, n=10)])
        await eventually(lambda: plumbing.applied_at_least(consumer, 10), what="a later event")

    assert await plumbing.effects(consumer) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    (letter,) = await _dead_letters(plumbing, consumer)
    assert letter["event_id"] == poison.id
    assert letter["subject"] == ProbeRecorded.event_type
    assert letter["deliveries"] == 3
    assert "probe 3 is poison" in str(letter["error"])
    # The event announcing it, and the logs, name the error's type and place, never its text
    # (which may quote a value).
    (announced,) = await outbox_events(
        plumbing.sessions, EventDeadLettered.event_type, consumer=consumer
    )
    assert announced.data["error"].startswith("RuntimeError at ")
    assert "poison" not in announced.data["error"]
    info = await js.consumer_info(STREAM_NAME, consumer)
    assert info.num_ack_pending == 0, "the dead-lettered event was terminated, not left pending"


async def test_an_event_that_waits_is_retried_past_the_dead_letter_count_until_it_applies(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """An event whose job has not come yet (or whose key, or database, is not there) is never
    given up on: it applies once what it waits for is there, however many deliveries that
    took."""
    run = str(new_id())
    consumer = f"waiting-{run}"
    tries: list[int] = []
    applier = plumbing.applier(consumer, run)

    async def waits_four_times(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        tries.append(len(envelopes))
        if len(tries) <= 4:
            raise Waiting("its job has not arrived yet")
        await applier(session, envelopes)

    async with _one_probe_relayed(plumbing, js, consumer, waits_four_times, run):
        await eventually(lambda: plumbing.applied_at_least(consumer, 1), what="the event")
    assert await plumbing.effects(consumer) == [1]
    assert await _dead_letters(plumbing, consumer) == []
    assert len(tries) >= 5


async def test_an_event_meeting_a_database_full_of_clients_waits_for_it_and_applies(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """A server at its `max_connections` (a rolling update starting new pods) refuses the
    consumer's connection: the event is retried until the server takes it, never given up
    on as an event that fails."""
    run = str(new_id())
    consumer = f"crowded-{run}"
    tries: list[int] = []
    applier = plumbing.applier(consumer, run)

    async def refused_four_times(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        tries.append(len(envelopes))
        if len(tries) <= 4:
            # As SQLAlchemy raises what asyncpg's connect raised.
            full = asyncpg.TooManyConnectionsError("sorry, too many clients already")
            raise DBAPIError("connect", None, Exception(str(full))) from full
        await applier(session, envelopes)

    async with _one_probe_relayed(plumbing, js, consumer, refused_four_times, run):
        await eventually(
            lambda: plumbing.applied_at_least(consumer, 1), timeout_s=10, what="the event"
        )
    assert await plumbing.effects(consumer) == [1]
    assert await _dead_letters(plumbing, consumer) == []
    assert len(tries) >= 5


async def test_an_event_that_waits_longer_than_it_may_is_dead_lettered(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """What it waits for may never come (a job whose own event failed): past `wait_s` it goes
    to `dead_letter`, so that it does not hold up the stream's erasure of what follows."""
    run = str(new_id())
    consumer = f"waited-{run}"

    async def never(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        if any(envelope.payload(ProbeRecorded).run == run for envelope in envelopes):
            # (Other tests' probes pass.) A key asked for in vain says so from a timeout,
            # which is no database out of reach.
            raise Waiting("its job never arrives") from TimeoutError()

    async with _one_probe_relayed(plumbing, js, consumer, never, run, wait_s=0.0):
        await eventually(lambda: _has_dead_letter(plumbing, consumer), what="a dead letter")
    (letter,) = await _dead_letters(plumbing, consumer)
    assert letter["deliveries"] == 2


async def test_the_erasure_copy_of_an_event_given_up_on_is_a_copy_to_its_consumer(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """An erasure republishes an event, emptied, under its id at the stream's end: a consumer
    that gave up on the event drops the copy as one of an event it took, as one that applied
    it does (it applied the emptied copy as new, or failed it and dead-lettered it again)."""
    run = str(new_id())
    consumer = f"erased-poison-{run}"
    handler = plumbing.applier(consumer, run, poison=1)
    async with _one_probe_relayed(plumbing, js, consumer, handler, run):
        await eventually(lambda: _has_dead_letter(plumbing, consumer), what="a dead letter")
        (given_up,) = await outbox_events(plumbing.sessions, ProbeRecorded.event_type, run=run)
        emptied = given_up.model_copy(update={"data": {**given_up.data, "n": 2}})
        await js.publish(
            emptied.subject,
            emptied.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{emptied.id}:redacted"},
        )
        async with plumbing.sessions() as session, session.begin():
            await publish_many(session, [ProbeRecorded(run=run, n=3)])
        await eventually(lambda: plumbing.applied_at_least(consumer, 1), what="a later event")
    assert await plumbing.effects(consumer) == [3]
    (letter,) = await _dead_letters(plumbing, consumer)
    assert letter["event_id"] == given_up.id


async def test_message_that_is_not_an_envelope_is_dead_lettered_at_once(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    consumer = f"garbage-{run}"
    ack = await js.publish(ProbeRecorded.event_type, b"{not json")
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run)}),
        plumbing.sessions,
        js,
    )
    async with background(inbox.run()):
        await eventually(lambda: _has_dead_letter(plumbing, consumer), what="a dead letter")
    letters = await _dead_letters(plumbing, consumer)
    assert [letter["deliveries"] for letter in letters] == [1]
    assert letters[0]["event_id"] is None
    assert "not an event envelope" in str(letters[0]["error"])
    assert ack.seq > 0


async def test_redelivered_event_changes_nothing(plumbing: Plumbing, js: JetStreamContext) -> None:
    run = str(new_id())
    consumer = f"redelivery-{run}"
    async with plumbing.sessions() as session, session.begin():
        (envelope,) = await publish_many(session, [ProbeRecorded(run=run, n=7)])
    await OutboxRelay(plumbing.sessions, js).relay_once()
    for _ in range(3):  # three more copies, as a relay beyond the duplicate window would send
        await js.publish(envelope.subject, envelope.model_dump_json().encode())
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: plumbing.applier(consumer, run)}),
        plumbing.sessions,
        js,
    )
    async with background(inbox.run()):
        await eventually(lambda: consumer_drained(js, consumer), what="all four copies to be acked")
        assert await plumbing.effects(consumer) == [7]

        # Copies of an applied event in the same batches as a new one: only the new one applies.
        async with plumbing.sessions() as session, session.begin():
            (fresh,) = await publish_many(session, [ProbeRecorded(run=run, n=8)])
        for copy in [envelope, fresh, envelope, fresh]:
            await js.publish(copy.subject, copy.model_dump_json().encode())
        await eventually(lambda: consumer_drained(js, consumer), what="the copies to be acked")
    assert await plumbing.effects(consumer) == [7, 8]


async def _has_dead_letter(plumbing: Plumbing, consumer: str) -> bool:
    return bool(await _dead_letters(plumbing, consumer))


async def test_replicas_of_two_releases_share_a_consumer_and_lose_no_event_type(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """A rolling upgrade: a newer release handles a type the older does not. An older replica
    that starts after a newer one keeps that type in the consumer's filter, and an event of it
    that the older replica fetches is left to a newer one, which applies it."""
    run = str(new_id())
    consumer = f"releases-{run}"
    both = {
        ProbeRecorded.event_type: plumbing.applier(consumer, run),
        ProbeCounted.event_type: plumbing.applier(consumer, run, event=ProbeCounted),
    }
    # (A stopped replica's last fetch may still take an event: it comes again after ack_wait.)
    newer = InboxConsumer(Subscription(consumer, both), plumbing.sessions, js, ack_wait_s=2)
    older = InboxConsumer(
        Subscription(consumer, {ProbeRecorded.event_type: both[ProbeRecorded.event_type]}),
        plumbing.sessions,
        js,
        ack_wait_s=2,
        backoff_s=0.2,
    )
    async with background(newer.run()):
        await eventually(lambda: _exists(js, consumer), what="the newer release's consumer")
    async with plumbing.sessions() as session, session.begin():
        await publish_many(session, [ProbeRecorded(run=run, n=1), ProbeCounted(run=run, n=2)])
    relay = OutboxRelay(plumbing.sessions, js)
    async with background(relay.run()), background(older.run()):
        await eventually(lambda: plumbing.applied_at_least(consumer, 1), what="the older's type")
        info = await js.consumer_info(STREAM_NAME, consumer)
        assert sorted(info.config.filter_subjects or []) == sorted(both), "not narrowed"
        await eventually(
            lambda: _redelivered(js, consumer), what="the newer type to be left, not taken"
        )
        assert await plumbing.effects(consumer) == [1]
        another = InboxConsumer(Subscription(consumer, both), plumbing.sessions, js, ack_wait_s=2)
        async with background(another.run()):
            await eventually(lambda: plumbing.applied_at_least(consumer, 2), what="the newer's")
    assert await plumbing.effects(consumer) == [1, 2]
    # (A new durable reads the whole stream: other tests' messages that are no events too.)
    letters = await _dead_letters(plumbing, consumer)
    assert [letter for letter in letters if letter["event_id"] is not None] == []


class ProbeVersioned(ProbeRecorded):
    """A type of event of its own (other tests' consumers read the stream whole and would
    wait on its newer version)."""

    event_type = "bpo.test.probe.versioned"


class ProbeVersionedAgain(ProbeVersioned):
    """The same type of event in a newer version of its contract (a newer release's)."""

    version: ClassVar[int] = 2


async def test_an_event_of_a_newer_version_is_left_by_an_older_replica_to_a_newer_one(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """A rolling upgrade that bumps a contract's version: an older replica that fetches an
    event of the newer version neither applies it as the version it reads nor dead-letters
    it; a replica of the newer release applies it."""
    run = str(new_id())
    consumer = f"versions-{run}"
    older = InboxConsumer(
        Subscription(
            consumer,
            {ProbeVersioned.event_type: plumbing.applier(consumer, run, event=ProbeVersioned)},
        ),
        plumbing.sessions,
        js,
        ack_wait_s=2,
        backoff_s=0.2,
    )
    async with plumbing.sessions() as session, session.begin():
        await publish_many(session, [ProbeVersionedAgain(run=run, n=7)])
    relay = OutboxRelay(plumbing.sessions, js)
    async with background(relay.run()), background(older.run()):
        await eventually(lambda: _exists(js, consumer), what="the older release's consumer")
        await eventually(lambda: _redelivered(js, consumer), what="the newer version to be left")
        assert await plumbing.effects(consumer) == []
        newer = InboxConsumer(
            Subscription(
                consumer,
                {
                    ProbeVersioned.event_type: plumbing.applier(
                        consumer, run, event=ProbeVersionedAgain
                    )
                },
            ),
            plumbing.sessions,
            js,
            ack_wait_s=2,
        )
        async with background(newer.run()):
            await eventually(lambda: plumbing.applied_at_least(consumer, 1), what="the newer's")
    assert await plumbing.effects(consumer) == [7]
    letters = await _dead_letters(plumbing, consumer)
    assert [letter for letter in letters if letter["event_id"] is not None] == []


async def _exists(js: JetStreamContext, consumer: str) -> bool:
    try:
        await js.consumer_info(STREAM_NAME, consumer)
    except NotFoundError:
        return False
    return True


async def _redelivered(js: JetStreamContext, consumer: str) -> bool:
    info = await js.consumer_info(STREAM_NAME, consumer)
    return (info.num_redelivered or 0) > 0
