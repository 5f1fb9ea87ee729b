"""Idempotent event consumers on durable JetStream pull consumers.

One durable consumer per service and purpose, shared by all replicas of that service. For
each delivery the event id is recorded in `inbox_event` in the same transaction as the
handler's effect, and the message is acked only after that commit, so a redelivery changes
nothing. A failing event is redelivered with growing delays; at its last delivery it goes to
`dead_letter` and is terminated. Other events keep flowing meanwhile.

During a rolling upgrade, replicas of two releases share a durable consumer: it takes the
event types either handles (a replica never narrows what another widened), and an event of
a type one release does not handle is redelivered until a replica of the other takes it.
"""

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import ARRAY, String, Uuid, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.context import bind_correlation_id
from bpo_common.contracts.messaging import EventDeadLettered
from bpo_common.db import SessionFactory, advisory_lock, unreachable
from bpo_common.events import BATCH_BYTES, STREAM_NAME, Envelope, Event, Waiting
from bpo_common.ids import new_id
from bpo_common.loops import keep_running, stop_if_cancelled
from bpo_common.metrics import (
    EVENTS_APPLIED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_FAILED,
)
from bpo_common.outbox import publish
from bpo_common.tables import dead_letter, inbox_event

log = structlog.get_logger(__name__)

# A handler applies a run of consecutive events of one type, in order, in the caller's
# transaction: set-based where it can (one statement per table for the whole run).
Handler = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]
# The names of the locks a delivery's handlers will take, read in the caller's transaction
# once it holds the delivery's shared names (`apply`).
Locks = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[Collection[str]]]
E = TypeVar("E", bound=Event)

MAX_NAK_DELAY_S = 60.0
# Doublings of any backoff the settings allow (BPO_CONSUMER_BACKOFF_S, at least 1 ms) that
# reach MAX_NAK_DELAY_S.
_DOUBLINGS_PAST_ANY_CAP = 64
# How long a consumer gathers the events that follow the first one into its batch: a run of
# many events costs little more than a run of one, and a stage adds at most this to latency.
LINGER_S = 0.1
# A wait shorter than this is not worth a request to the server.
SHORTEST_WAIT_S = 0.005


@dataclass(frozen=True)
class Subscription:
    """A durable consumer: its name, one handler per event type it takes, the fields of its
    events that name what another replica's events may change too (`shared_by`, see
    `apply`), and what else its handlers lock that only the database tells (`locks`: the
    names of advisory locks, bpo_common.db.advisory_lock's, taken after the shared ones)."""

    name: str
    handlers: Mapping[str, Handler]
    shared_by: tuple[str, ...] = ()
    locks: Locks | None = None


def each(
    contract: type[E], use_case: Callable[[AsyncSession, E], Awaitable[None]]
) -> tuple[str, Handler]:
    """(event type, handler) applying a run's events one at a time through `use_case`, each
    with its own correlation id."""

    async def handle(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            bind_correlation_id(envelope.correlation_id)
            await use_case(session, envelope.payload(contract))

    return contract.event_type, handle


def batch(
    contract: type[E], use_case: Callable[[AsyncSession, list[E]], Awaitable[None]]
) -> tuple[str, Handler]:
    """(event type, handler) giving a run's events to `use_case` at once, for set-based work."""

    async def handle(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        await use_case(session, [envelope.payload(contract) for envelope in envelopes])

    return contract.event_type, handle


K = TypeVar("K")
T = TypeVar("T")


def first_of_each(events: Sequence[T], key: Callable[[T], K]) -> list[T]:
    """The first of each key among a run's events, in order: what applying them one at a time
    would have done, since a later copy of a fact changes nothing."""
    seen: dict[K, T] = {}
    for event in events:
        seen.setdefault(key(event), event)
    return list(seen.values())


def runs(envelopes: Sequence[Envelope]) -> list[list[Envelope]]:
    """The envelopes cut into runs of consecutive events of one type, in order: applied run
    after run, each event still comes after every event delivered before it (a job before
    its items, a decision after its keyings)."""
    cut: list[list[Envelope]] = []
    for envelope in envelopes:
        if cut and cut[-1][0].type == envelope.type:
            cut[-1].append(envelope)
        else:
            cut.append([envelope])
    return cut


def _shared_correlation_id(run: Sequence[Envelope]) -> str | None:
    """The correlation id a run's events share, if they do: what a set-based handler's own
    events carry (`each` binds each event's own)."""
    ids = {envelope.correlation_id for envelope in run}
    return ids.pop() if len(ids) == 1 else None


async def _at_once() -> None:
    """A consumer's idle wait: none, since each fetch waits for events itself."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"


def retry_delay_s(backoff_s: float, deliveries: int) -> float:
    """How long an event that failed at its `deliveries`-th delivery waits for the next:
    `backoff_s` doubled at each, at most MAX_NAK_DELAY_S (the doubling stops past the cap,
    before it overflows a float: an event may be delivered thousands of times)."""
    doublings = min(deliveries - 1, _DOUBLINGS_PAST_ANY_CAP)
    return min(backoff_s * 2.0**doublings, MAX_NAK_DELAY_S)


def waited_s(backoff_s: float, deliveries: int) -> float:
    """How long an event has been retried by its `deliveries`: the delays between them."""
    return sum(retry_delay_s(backoff_s, n) for n in range(1, deliveries))


async def apply(
    session: AsyncSession, subscription: Subscription, envelopes: Sequence[Envelope]
) -> list[Outcome]:
    """Apply a delivery in the session's transaction: its events recorded in the inbox, then
    applied run after run; each one's outcome (a copy of an event applied before, or earlier
    in the delivery, is a duplicate).

    Before the first run, the transaction takes a lock on each value its events carry in the
    subscription's `shared_by` fields (a client, a job, a contractor), all in one order, and
    then the locks its `locks` name, in one order too. Two replicas' deliveries holding
    events of the same two jobs in opposite orders would otherwise each lock the rows of its
    first job and wait for the other's, and PostgreSQL would abort one of them a second later
    (its delivery then applied again event by event, waiting on the other's locks). The
    second now waits for the first at the start, holding only its events' inbox rows and
    names no run takes.

    `locks` is asked once the shared names are held: what it reads of a job or a contractor
    is then what the runs will read, since a delivery that changes them (announcing the job,
    say) either committed before or waits for this one. Asked before, it missed a job another
    replica was announcing, and a run took that lock in the middle of the delivery, after the
    locks of earlier runs, in an order another delivery could take the other way."""
    fresh = await record_received(session, subscription.name, [e.id for e in envelopes])
    outcomes: list[Outcome] = []
    applied: list[Envelope] = []
    for envelope in envelopes:
        if envelope.id not in fresh:
            outcomes.append(Outcome.DUPLICATE)
            continue
        fresh.discard(envelope.id)  # a copy inside the delivery applies once
        outcomes.append(Outcome.APPLIED)
        applied.append(envelope)
    shared = {
        f"{subscription.name}:{name}:{envelope.data[name]}"
        for envelope in applied
        for name in subscription.shared_by
        if envelope.data.get(name) is not None
    }
    if shared:
        await advisory_lock(session, *sorted(shared))
    if subscription.locks is not None and applied:
        named = await subscription.locks(session, applied)
        if named:
            await advisory_lock(session, *sorted(named))
    for run in runs(applied):
        bind_correlation_id(_shared_correlation_id(run))
        await subscription.handlers[run[0].type](session, run)
    return outcomes


class InboxConsumer:
    def __init__(
        self,
        subscription: Subscription,
        sessions: SessionFactory,
        js: JetStreamContext,
        *,
        max_deliver: int = 6,
        wait_s: float = 86_400.0,
        ack_wait_s: float = 30.0,
        backoff_s: float = 0.5,
        batch_size: int = 100,
        batch_bytes: int = BATCH_BYTES,
        fetch_timeout_s: float = 1.0,
    ) -> None:
        self.subscription = subscription
        self._sessions = sessions
        self._js = js
        self._max_deliver = max_deliver
        self._wait_s = wait_s
        self._ack_wait_s = ack_wait_s
        self._backoff_s = backoff_s
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._fetch_timeout_s = fetch_timeout_s
        self._pull: JetStreamContext.PullSubscription | None = None

    def consumer_config(self, also: Collection[str] = ()) -> ConsumerConfig:
        """The durable consumer's configuration: it takes the types this release handles,
        and those of `also` (what other releases' replicas asked for)."""
        subjects = sorted(set(self.subscription.handlers) | set(also))
        return ConsumerConfig(
            durable_name=self.subscription.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            # The consumer dead-letters at its own count what fails for itself; the server
            # never stops delivering (an event that waits, or whose dead letter cannot be
            # recorded while the database is down, is tried again until it can be).
            max_deliver=-1,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            max_ack_pending=10_000,
        )

    async def run(self) -> None:
        """Fetch and handle events until cancelled; survives NATS going away and coming back."""
        await keep_running(f"consumer {self.subscription.name}", self._fetch_and_handle, _at_once)

    async def _fetch_and_handle(self) -> bool:
        if self._pull is None:
            await self._js.add_consumer(STREAM_NAME, self.consumer_config(await self._taken()))
            self._pull = await self._js.pull_subscribe_bind(
                durable=self.subscription.name, stream=STREAM_NAME
            )
        try:
            messages = await self._next_batch(self._pull)
        except TimeoutError:
            stop_if_cancelled()
            return False  # the fetch waited already
        parts = _parts(messages, self._batch_bytes)
        for number, part in enumerate(parts):
            if number:
                # What waited for the parts before starts its ack wait again, or the server
                # would deliver it again (to another replica, counting a delivery more).
                for message in (message for rest in parts[number:] for message in rest):
                    await message.in_progress()
            await self.handle_batch(part)
        return True

    async def _taken(self) -> list[str]:
        """The types the durable consumer takes already. During a rolling upgrade replicas of
        two releases share it: one of the older never narrows what a newer one widened (its
        events would be skipped for good); what it does not handle it leaves to them."""
        try:
            info = await self._js.consumer_info(STREAM_NAME, self.subscription.name)
        except NotFoundError:
            return []
        config = info.config
        return list(
            config.filter_subjects or ([config.filter_subject] if config.filter_subject else [])
        )

    async def _next_batch(self, pull: JetStreamContext.PullSubscription) -> list[Msg]:
        """Wait for the next event, then gather what follows for up to `LINGER_S`, or until
        the batch is full, in count or in bytes (one fetch may pass the bytes by events larger
        than those before). (A fetch takes what the stream holds at once, and waits only when
        it holds nothing.)"""
        messages = await pull.fetch(1, timeout=self._fetch_timeout_s)
        clock = asyncio.get_running_loop().time
        deadline = clock() + LINGER_S
        held = sum(len(message.data) for message in messages)
        while len(messages) < self._batch_size and held < self._batch_bytes:
            wait = deadline - clock()
            if wait < SHORTEST_WAIT_S:
                break
            # As many more as fit the batch's bytes, going by the largest event held.
            largest = max(len(message.data) for message in messages) or 1
            more = min(self._batch_size - len(messages), (self._batch_bytes - held) // largest)
            try:
                fetched = await pull.fetch(max(1, more), timeout=wait)
            except TimeoutError:
                break
            messages += fetched
            held += sum(len(message.data) for message in fetched)
        return messages

    async def handle_batch(self, messages: list[Msg]) -> list[Outcome]:
        """Apply a batch in one transaction (one commit instead of one per event), then ack
        each. If any event of it fails, the batch is rolled back and each event is handled on
        its own, so only the failing one is retried."""
        if len(messages) == 1:
            return [await self.handle(messages[0])]
        try:
            envelopes = [Envelope.model_validate_json(message.data) for message in messages]
        except ValidationError:
            return [await self.handle(message) for message in messages]
        if any(envelope.type not in self.subscription.handlers for envelope in envelopes):
            return [await self.handle(message) for message in messages]
        try:
            async with self._sessions() as session, session.begin():
                outcomes = await apply(session, self.subscription, envelopes)
        except asyncio.CancelledError:
            raise
        except Exception:
            return [await self.handle(message) for message in messages]
        finally:
            bind_correlation_id(None)
        for message, envelope, outcome in zip(messages, envelopes, outcomes, strict=True):
            await message.ack()
            if outcome is Outcome.APPLIED:
                EVENTS_APPLIED.labels(self.subscription.name, envelope.type).inc()
            else:
                EVENTS_DUPLICATE.labels(self.subscription.name).inc()
        return outcomes

    async def handle(self, message: Msg) -> Outcome:
        deliveries = message.metadata.num_delivered
        try:
            envelope = Envelope.model_validate_json(message.data)
        except ValidationError as exc:
            error = f"not an event envelope: {exc}"
            return await self._give_up(message, None, deliveries, error, "not an event envelope")
        if envelope.type not in self.subscription.handlers:
            return await self._left_to_others(message, envelope, deliveries)
        bind_correlation_id(envelope.correlation_id)
        try:
            async with self._sessions() as session, session.begin():
                (outcome,) = await apply(session, self.subscription, [envelope])
            first_time = outcome is Outcome.APPLIED
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            EVENTS_FAILED.labels(self.subscription.name).inc()
            # What waits for another event or a key is given up on after `wait_s` of its
            # retries (one that never comes would hold up the stream's erasure of what follows
            # it); what waits for the database, never (nor could its dead letter be recorded).
            if isinstance(exc, Waiting):
                waits = self._waited_s(deliveries) < self._wait_s
            else:
                waits = unreachable(exc)
            if deliveries >= self._max_deliver and not waits:
                return await self._give_up(message, envelope.id, deliveries, repr(exc), named(exc))
            delay = self._delay_s(deliveries)
            log.warning(
                "event waits, will retry" if waits else "event handler failed, will retry",
                consumer=self.subscription.name,
                event_id=str(envelope.id),
                type=envelope.type,
                deliveries=deliveries,
                retry_in_s=delay,
                error=named(exc),
            )
            await message.nak(delay=delay)
            return Outcome.RETRY
        finally:
            bind_correlation_id(None)
        await message.ack()
        if first_time:
            EVENTS_APPLIED.labels(self.subscription.name, envelope.type).inc()
            return Outcome.APPLIED
        EVENTS_DUPLICATE.labels(self.subscription.name).inc()
        return Outcome.DUPLICATE

    async def _left_to_others(self, message: Msg, envelope: Envelope, deliveries: int) -> Outcome:
        """An event of a type this release has no handler for: a newer release's, taken by
        the consumer its replicas share with this one during a rolling upgrade. Left to them
        (redelivered) for `wait_s` of its retries, then dead-lettered: no release took it."""
        if self._waited_s(deliveries) >= self._wait_s:
            error = f"no handler for {envelope.type} in any release that took it"
            return await self._give_up(message, envelope.id, deliveries, error, error)
        delay = self._delay_s(deliveries)
        log.info(
            "event of a type this release does not handle, left to another",
            consumer=self.subscription.name,
            event_id=str(envelope.id),
            type=envelope.type,
            retry_in_s=delay,
        )
        await message.nak(delay=delay)
        return Outcome.RETRY

    def _waited_s(self, deliveries: int) -> float:
        return waited_s(self._backoff_s, deliveries)

    def _delay_s(self, deliveries: int) -> float:
        return retry_delay_s(self._backoff_s, deliveries)

    async def _give_up(
        self, message: Msg, event_id: UUID | None, deliveries: int, error: str, shown: str
    ) -> Outcome:
        """Keep the event in `dead_letter` for a person to look at, with its `error` whole
        (which erasure empties), then stop its deliveries; logs and the event announcing it
        say only what was `shown` of the error (see `named`). The event is recorded in the
        inbox as taken: the copy an erasure publishes under its id, emptied, is then dropped
        as a copy, as by a consumer that applied it (it was applied as new, or failed and was
        dead-lettered again)."""
        try:
            async with self._sessions() as session, session.begin():
                if event_id is not None:
                    await record_received(session, self.subscription.name, [event_id])
                await session.execute(
                    insert(dead_letter).values(
                        id=new_id(),
                        consumer=self.subscription.name,
                        event_id=event_id,
                        subject=message.subject,
                        payload=message.data,
                        deliveries=deliveries,
                        error=error,
                    )
                )
                await publish(
                    session,
                    EventDeadLettered(
                        consumer=self.subscription.name,
                        event_id=event_id,
                        subject=message.subject,
                        deliveries=deliveries,
                        error=shown[:2000],
                    ),
                )
        except Exception as exc:
            log.error("could not record dead letter, will retry", error=repr(exc))
            await message.nak(delay=self._backoff_s)
            return Outcome.RETRY
        await message.term()
        EVENTS_DEAD_LETTERED.labels(self.subscription.name).inc()
        log.error(
            "event dead-lettered",
            consumer=self.subscription.name,
            event_id=str(event_id),
            subject=message.subject,
            deliveries=deliveries,
            error=shown,
        )
        return Outcome.DEAD_LETTERED


def named(exc: BaseException) -> str:
    """An exception as logs and events name it: its type and where it was raised, not its
    message, which may quote a value of the event (logs never carry values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno} in {last.name}"


# The inbox rows of a whole batch in one statement and one round trip, whatever its size:
# the ids go as one array. (A list of parameter sets with ON CONFLICT DO NOTHING RETURNING
# would run as one statement per row.)
_RECORD_RECEIVED = (
    pg_insert(inbox_event)
    .from_select(
        ["consumer", "event_id"],
        select(
            bindparam("consumer", type_=String),
            func.unnest(bindparam("event_ids", type_=ARRAY(Uuid))),
        ),
    )
    .on_conflict_do_nothing()
    .returning(inbox_event.c.event_id)
)


async def record_received(session: AsyncSession, consumer: str, event_ids: list[UUID]) -> set[UUID]:
    """Record events in the consumer's inbox, in one statement; the ids it had not applied yet
    (the rest are copies of events it has applied)."""
    rows = await session.execute(_RECORD_RECEIVED, {"consumer": consumer, "event_ids": event_ids})
    return set(rows.scalars())


def _parts(messages: list[Msg], most_bytes: int) -> list[list[Msg]]:
    """The messages in order, in consecutive parts of at most `most_bytes` of data each (a
    message larger than that alone)."""
    parts: list[list[Msg]] = []
    size = 0
    for message in messages:
        if not parts or size + len(message.data) > most_bytes:
            parts.append([])
            size = 0
        parts[-1].append(message)
        size += len(message.data)
    return parts
