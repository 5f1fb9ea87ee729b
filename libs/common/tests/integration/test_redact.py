"""Emptying events on the real stream of the values they carry sealed (an erased item's)."""

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from bpo_common.clock import utcnow
from bpo_common.contracts.sealed import emptied, holds_sealed
from bpo_common.events import STREAM_NAME, Envelope
from bpo_common.ids import new_id
from bpo_common.messaging import durable_consumers, redact, replay


def _event(subject: str, n: int) -> Envelope:
    data = {"n": n, "item_id": str(new_id()), "values": {"name": f"pii:v1:key:secret-{n}"}}
    return Envelope(id=new_id(), type=subject, source="test", time=utcnow(), version=1, data=data)


async def test_an_event_is_emptied_once_every_durable_consumer_acked_it(
    js: JetStreamContext,
) -> None:
    subject = f"bpo.test.redact.r{new_id().hex}"
    events = [_event(subject, n) for n in range(3)]
    sequences = []
    for event in events:
        ack = await js.publish(subject, event.model_dump_json().encode())
        sequences.append(ack.seq)
    durable = f"redact-{subject.rsplit('.', 1)[-1]}"
    reader = await js.pull_subscribe(
        subject,
        durable=durable,
        stream=STREAM_NAME,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    delivered = await reader.fetch(3, timeout=5)
    for message in delivered[:2]:
        await message.ack_sync()

    waiting = await redact(js, [subject], lambda envelope: holds_sealed(envelope.data), emptied)

    assert [envelope.id for envelope in waiting] == [events[2].id], "not acked: it stays"
    stored = [envelope async for envelope in replay(js, [subject])]
    assert [(envelope.id, holds_sealed(envelope.data)) for envelope in stored] == [
        (events[2].id, True),
        (events[0].id, False),
        (events[1].id, False),
    ]
    assert stored[1].data == {**events[0].data, "values": {"name": None}}, "ids and counts stay"
    for sequence in sequences[:2]:
        try:
            await js.get_msg(STREAM_NAME, sequence)
        except NotFoundError:
            continue
        raise AssertionError(f"message {sequence} is still on the stream")

    await delivered[2].ack_sync()
    assert await redact(js, [subject], lambda e: holds_sealed(e.data), emptied) == []
    stored = [envelope async for envelope in replay(js, [subject])]
    assert sorted(envelope.data["n"] for envelope in stored) == [0, 1, 2]
    assert not any(holds_sealed(envelope.data) for envelope in stored)
    assert await redact(js, [subject], lambda e: holds_sealed(e.data), emptied) == []
    await reader.unsubscribe()
    await js.delete_consumer(STREAM_NAME, durable)


async def test_every_durable_consumer_is_seen_past_the_servers_first_page(
    js: JetStreamContext,
) -> None:
    subject = f"bpo.test.redact.p{new_id().hex}"
    names = [f"page-{subject.rsplit('.', 1)[-1]}-{n:03}" for n in range(300)]
    for name in names:
        config = ConsumerConfig(durable_name=name, filter_subject=subject)
        await js.add_consumer(STREAM_NAME, config)
    try:
        listed = {info.name for info in await durable_consumers(js)}
        assert set(names) <= listed, f"{len(set(names) - listed)} of the 300 not listed"
    finally:
        for name in names:
            await js.delete_consumer(STREAM_NAME, name)
