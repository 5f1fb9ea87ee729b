"""NATS connection and the BPO stream."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import NotFoundError, ServiceUnavailableError
from pydantic import SecretStr, ValidationError

from bpo_common.events import BATCH_BYTES, STREAM_NAME, STREAM_SUBJECTS, Envelope
from bpo_common.loops import retry_until

log = structlog.get_logger(__name__)

DUPLICATE_WINDOW_S = 2 * 60 * 60
# Events a reader of the whole stream fetches first, before it knows how large they are.
_FIRST_FETCH = 16


class StreamStalled(Exception):
    """A read of the stream got nothing in time while events were still to be read: what was
    read is not the whole of it."""


async def connect(
    url: str,
    *,
    name: str,
    timeout_s: float = 30.0,
    user: str | None = None,
    password: SecretStr | None = None,
) -> NATS:
    """Connect, retrying until `timeout_s`; once connected, reconnect without a limit. With
    `user` and `password` when the server asks for them (BPO_NATS_USER, BPO_NATS_PASSWORD).
    nats-py's first connect tries its servers without end under a reconnect limit of none: it
    is given `timeout_s` (without it, a service whose NATS could not be reached waited for
    ever, saying nothing)."""
    try:
        return await retry_until(
            "NATS not reachable yet",
            lambda: asyncio.wait_for(
                nats.connect(
                    servers=[server.strip() for server in url.split(",")],
                    name=name,
                    user=user,
                    password=password.get_secret_value() if password is not None else None,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    allow_reconnect=True,
                ),
                timeout_s,
            ),
            passing=lambda _: True,
            timeout_s=timeout_s,
        )
    except TimeoutError as exc:
        raise ConnectionError(
            f"cannot reach NATS at {without_login(url)} within {timeout_s:g} s"
        ) from exc
    except Exception as exc:
        raise ConnectionError(f"cannot reach NATS at {without_login(url)}: {exc!r}") from exc


def without_login(url: str) -> str:
    """The servers of a NATS URL as an error names them: a login written into one
    (`nats://user:password@host`, where BPO_NATS_USER and BPO_NATS_PASSWORD belong), whatever
    it holds, left out: all before a server's last `@`, past its scheme."""
    shown = []
    for server in url.split(","):
        scheme, separator, rest = server.strip().rpartition("://")
        shown.append(f"{scheme}{separator}{rest.rpartition('@')[2]}")
    return ",".join(shown)


def stream_config(replicas: int = 1, max_age_days: int = 0) -> StreamConfig:
    """`max_age_days`: events older go (0: kept for ever); at least the longest retention of
    a client's data, so that erasure reaches what the stream holds only sealed under a
    deleted key, and never outlives it in clear. No byte limit, on purpose: one would drop
    the oldest events when the store fills, whether every consumer had them or not; full,
    the stream refuses new events instead, which wait in the services' outboxes."""
    return StreamConfig(
        name=STREAM_NAME,
        subjects=STREAM_SUBJECTS,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
        num_replicas=replicas,
        max_age=max_age_days * 86400.0,
    )


def dropped_before(info: StreamInfo, now: datetime) -> datetime | None:
    """The time before which the stream may have dropped events: it keeps each one a limited
    time (`max_age`) and is older than that. None: it holds every event it was sent (bar
    those erasure deleted, whose copies it holds)."""
    max_age = info.config.max_age or 0
    if not max_age or info.created is None:
        return None
    cutoff = now - timedelta(seconds=max_age)
    return cutoff if info.created < cutoff else None


async def ensure_stream(
    js: JetStreamContext, *, replicas: int = 1, max_age_days: int = 0, timeout_s: float = 30.0
) -> None:
    """Create the BPO stream, or bring an existing one to this configuration. While JetStream
    does not answer (a cluster electing a leader, a node restarting), try again until
    `timeout_s`."""
    config = stream_config(replicas, max_age_days)

    async def configure() -> None:
        try:
            await js.stream_info(STREAM_NAME)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)

    await retry_until(
        f"JetStream not answering yet (stream {STREAM_NAME})",
        configure,
        passing=lambda exc: isinstance(
            exc, nats.errors.TimeoutError | nats.errors.NoRespondersError | ServiceUnavailableError
        ),
        timeout_s=timeout_s,
        first_delay_s=0.5,
        max_delay_s=0.5,
    )


async def replay(
    js: JetStreamContext,
    subjects: Sequence[str],
    *,
    last: int | None = None,
    wait_s: float = 5.0,
    unreadable: Callable[[int], None] | None = None,
) -> AsyncIterator[Envelope]:
    """The events of stream BPO on `subjects`, in order, from its first up to sequence `last`
    (or to its end), through an ephemeral consumer that acks nothing: the stream as it is,
    read by someone who changes nothing in it. A message that is no event envelope (which a
    consumer gives up on) is passed over, its stream sequence given to `unreadable`."""
    chunks = replay_chunks(js, subjects, last=last, wait_s=wait_s, unreadable=unreadable)
    async for chunk in chunks:
        for envelope in chunk:
            yield envelope


async def replay_chunks(
    js: JetStreamContext,
    subjects: Sequence[str],
    *,
    last: int | None = None,
    most: int = 500,
    most_bytes: int = BATCH_BYTES,
    wait_s: float = 5.0,
    unreadable: Callable[[int], None] | None = None,
) -> AsyncIterator[list[Envelope]]:
    """The events `replay` gives, in lists of at most `most` events and `most_bytes` of them
    as stored (an event larger than that alone), as a consumer applies a batch."""
    chunk: list[Envelope] = []
    size = 0
    async for message in _stored(js, subjects, last=last, batch=most, wait_s=wait_s):
        if chunk and (len(chunk) == most or size + len(message.data) > most_bytes):
            yield chunk
            chunk, size = [], 0
        try:
            chunk.append(Envelope.model_validate_json(message.data))
        except ValidationError:
            if unreadable is not None:
                unreadable(message.metadata.sequence.stream)
            continue
        size += len(message.data)
    if chunk:
        yield chunk


async def _stored(
    js: JetStreamContext, subjects: Sequence[str], *, last: int | None, batch: int, wait_s: float
) -> AsyncIterator[Msg]:
    """The messages of stream BPO on `subjects` up to sequence `last`, as stored."""
    if last == 0:
        return
    subscription = await js.pull_subscribe(
        "",
        stream=STREAM_NAME,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            filter_subjects=sorted(subjects),
            inactive_threshold=60.0,
        ),
    )
    try:
        pending = (await subscription.consumer_info()).num_pending
        # Fetches of at most BATCH_BYTES as far as the largest event of the last one tells (a
        # few to begin with): a stream of events near the 2 MiB a record may reach is not read
        # 500 at a time, one of small events is.
        count = min(batch, _FIRST_FETCH)
        while pending:
            try:
                messages = await subscription.fetch(count, timeout=wait_s)
            except TimeoutError as exc:
                raise StreamStalled(
                    f"the stream sent nothing for {wait_s:g} s with {pending:,} events to read"
                ) from exc
            largest = max(len(message.data) for message in messages)
            count = max(1, min(batch, BATCH_BYTES // max(largest, 1)))
            for message in messages:
                if last is not None and message.metadata.sequence.stream > last:
                    return
                yield message
            pending = messages[-1].metadata.num_pending
            if last is not None and messages[-1].metadata.sequence.stream >= last:
                return
    finally:
        await subscription.unsubscribe()


async def redact(
    js: JetStreamContext,
    subjects: Sequence[str],
    picked: Callable[[Envelope], bool],
    emptied: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[Envelope]:
    """Replace each event on `subjects` that `picked` chooses by a copy whose data is
    `emptied`, published at the stream's end under the same event id (every consumer that
    took the event already drops the copy as a duplicate; a replay from the start reads it in
    the original's place), then delete the original (the server overwrites it). An event not
    yet acked by every durable consumer reading its subject stays; those are returned, for a
    later pass. Reads the stream once, up to its end when called."""
    last = (await js.stream_info(STREAM_NAME)).state.last_seq
    done_with = await _acked_by_every_consumer(js)
    waiting: list[Envelope] = []
    async for message in _stored(js, subjects, last=last, batch=500, wait_s=5.0):
        try:
            envelope = Envelope.model_validate_json(message.data)
        except ValidationError:
            continue  # not an event: nothing of a job's in it
        if not picked(envelope):
            continue
        sequence = message.metadata.sequence.stream
        if not done_with(message.subject, sequence):
            waiting.append(envelope)
            continue
        copy = envelope.model_copy(update={"data": emptied(envelope.data)})
        await js.publish(
            message.subject,
            copy.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{envelope.id}:redacted:{sequence}"},
        )
        await js.delete_msg(STREAM_NAME, sequence)
    return waiting


async def _acked_by_every_consumer(js: JetStreamContext) -> Callable[[str, int], bool]:
    """Whether every durable consumer of the stream that reads `subject` is done with the
    message at `sequence`: it acked it, or it acked everything it reads."""
    consumers = await durable_consumers(js)

    def done_with(subject: str, sequence: int) -> bool:
        for info in consumers:
            if not reads(info, subject):
                continue
            caught_up = not info.num_pending and not info.num_ack_pending
            if not caught_up and (info.ack_floor is None or info.ack_floor.stream_seq < sequence):
                return False
        return True

    return done_with


async def durable_consumers(js: JetStreamContext) -> list[ConsumerInfo]:
    """Every durable consumer of the stream (the server lists them a page of 256 at a time)."""
    listed: list[ConsumerInfo] = []
    while page := await js.consumers_info(STREAM_NAME, offset=len(listed)):
        listed += page
    return [info for info in listed if info.config.durable_name]


def reads(consumer: ConsumerInfo, subject: str) -> bool:
    """Whether the consumer's filters take events of `subject`."""
    filters = consumer.config.filter_subjects or [consumer.config.filter_subject or ">"]
    return any(_covers(pattern, subject) for pattern in filters)


def _covers(pattern: str, subject: str) -> bool:
    """Whether a NATS subject filter (`*` one token, `>` the rest) takes `subject`."""
    wanted, parts = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(wanted) == len(parts)
