"""A batch of large events is applied in parts, each within the consumer's bound in bytes."""

from collections.abc import Sequence

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_devtools.testing import background, consumer_drained, eventually

from .conftest import Plumbing, ProbeRecorded


class ProbeBulky(ProbeRecorded):
    """A probe of a type of its own, so that its consumer sees this test's events alone."""

    event_type = f"bpo.test.probe.bulky-{new_id().hex}"


async def test_a_batch_of_large_events_is_applied_a_few_at_a_time_and_every_one_is(
    plumbing: Plumbing, js: JetStreamContext
) -> None:
    run = str(new_id())
    sizes: list[int] = []

    async def apply(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        sizes.append(len(envelopes))

    # Six events of some 100 kB each, in the stream before the consumer starts: one batch.
    padding = b" " * 100_000
    for n in range(6):
        envelope = wrap(ProbeBulky(run=run, n=n), source="test")
        await js.publish(envelope.subject, envelope.model_dump_json().encode() + padding)
    consumer = f"parts-{run}"
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
