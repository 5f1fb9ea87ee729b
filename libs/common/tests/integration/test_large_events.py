"""Large events are read and applied in parts, each within a bound in bytes: by a consumer
from its batch, and by a reader of the whole stream (the reports' rebuild)."""

import asyncio
from collections.abc import Sequence

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.events import STREAM_NAME, Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.messaging import replay_chunks
from bpo_devtools.testing import background, consumer_drained, eventually

from .conftest import Plumbing, ProbeRecorded


class ProbeBulky(ProbeRecorded):
    """A probe of a type of its own, so that its consumer sees this test's events alone."""

    event_type = f"bpo.test.probe.bulky-{new_id().hex}"


class ProbeWaiting(ProbeRecorded):
    """Another, for another test."""

    event_type = f"bpo.test.probe.waiting-{new_id().hex}"


class ProbeChunked(ProbeRecorded):
    """Another, for another test."""

    event_type = f"bpo.test.probe.chunked-{new_id().hex}"


async def test_a_batch_of_large_events_is_applied_a_few_at_a_time_and_every_one_is(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    consumer = f"parts-{run}"
    sizes: list[int] = []
    held: list[int] = []

    async def apply(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        sizes.append(len(envelopes))
        held.append((await js.consumer_info(STREAM_NAME, consumer)).num_ack_pending)

    # Six events of some 100 kB each, in the stream before the consumer starts: fetched a few
    # at a time, as the bound in bytes allows (one fetch may pass it by an event).
    padding = b" " * 100_000
    for n in range(6):
        envelope = wrap(ProbeBulky(run=run, n=n), source="test")
        await js.publish(envelope.subject, envelope.model_dump_json().encode() + padding)
    inbox = InboxConsumer(
        Subscription(consumer, {ProbeBulky.event_type: apply}),
        plumbing.sessions,
        js,
        batch_bytes=250_000,
    )

    async with background(inbox.run()):
        await eventually(lambda: consumer_drained(js, consumer), what="the six to be acked")

    assert sum(sizes) == 6
    assert max(sizes) <= 2, sizes
    assert max(held) <= 3, f"events fetched and not yet acked: {held}"


async def test_a_part_that_waited_for_the_one_before_is_not_delivered_again(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    """Two parts, each applied in 2 s, under an ack wait of 3 s, while a second replica asks
    for events: the second part's events waited 2 s before theirs began, and their ack wait
    starts again then, so the other replica is never handed them."""
    run = str(new_id())
    began = asyncio.Event()

    async def apply(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        began.set()
        await asyncio.sleep(2)

    padding = b" " * 100_000
    for n in range(4):
        envelope = wrap(ProbeWaiting(run=run, n=n), source="test")
        await js.publish(envelope.subject, envelope.model_dump_json().encode() + padding)
    consumer = f"parts-waiting-{run}"

    def replica() -> InboxConsumer:
        subscription = Subscription(consumer, {ProbeWaiting.event_type: apply})
        return InboxConsumer(
            subscription, plumbing.sessions, js, ack_wait_s=3.0, batch_bytes=250_000
        )

    async with background(replica().run()):
        await asyncio.wait_for(began.wait(), 30)
        async with background(replica().run()):
            await eventually(lambda: consumer_drained(js, consumer), what="the four to be acked")

    delivered = (await js.consumer_info(STREAM_NAME, consumer)).delivered
    assert delivered.consumer_seq == 4, "each event delivered once"


async def test_the_stream_is_replayed_in_chunks_within_their_bound_in_bytes(
    js: JetStreamContext,
) -> None:
    run = str(new_id())
    padding = b" " * 100_000
    for n in range(5):
        envelope = wrap(ProbeChunked(run=run, n=n), source="test")
        await js.publish(envelope.subject, envelope.model_dump_json().encode() + padding)

    chunks = replay_chunks(js, [ProbeChunked.event_type], most_bytes=250_000)

    read = [[envelope.payload(ProbeChunked).n for envelope in chunk] async for chunk in chunks]
    assert read == [[0, 1], [2, 3], [4]]
