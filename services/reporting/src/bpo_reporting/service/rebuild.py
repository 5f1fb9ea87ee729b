"""Rebuild the read models from the event stream: `bpo reporting rebuild`.

In one transaction: lock the inbox and the read models, empty them, and replay the stream
`BPO` from its first event to its last (as of the lock) through the consumer's own handlers,
noting each event in the inbox as the consumer does. Readers and the service's consumer wait
for the commit (the service need not be stopped); the consumer then finds the replayed events
already applied and carries on after them. An event the consumer gave up on (dead-lettered) is
tried again, since a fix may let it apply now, and left out if it fails again, as the consumer
left it out; so is a message that is no event at all. Any other failure (an event a handler
refuses, say) rolls back to the read models as they were.

It needs every event the read models count to be in the stream still, and is refused (rolled
back) where one may not be, unless asked to count only what is left (`partial`): a stream
that keeps events a limited time (BPO_STREAM_MAX_AGE_DAYS) and is older than that may have
dropped the oldest, which is known before the replay; and the replay must have found each
event the consumer had taken (its inbox): a stream made anew once its store was lost, purged,
or that kept events a shorter time for a while lacks them. A stream holding no event for
reporting is refused too while the read models count anything (an inbox that keeps events a
limited time may no longer know what they count). An erasure that moves an event to the
stream's end while the replay reads it makes the rebuild refuse too: it passes when run again.

The command calls `rebuild` as its entry point: unlike other use cases it opens its own
transaction, since the rebuild is that one transaction.
"""

from dataclasses import dataclass
from time import perf_counter
from uuid import UUID

from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.events import STREAM_NAME, Envelope
from bpo_common.inbox import first_of_each, record_received, runs
from bpo_common.messaging import connect, dropped_before, replay_chunks
from bpo_reporting.consumers import CONSUMER, handlers
from bpo_reporting.repository import rebuild as repository

# Events applied together, as the consumer applies a fetched batch (and at most BATCH_BYTES
# of them: bpo_common.messaging.replay_chunks).
CHUNK = 500


@dataclass(frozen=True)
class Rebuilt:
    events_read: int
    events_applied: int
    # Events the consumer gave up on that failed again.
    events_left_out: int
    last_sequence: int
    seconds: float


class HistoryGone(Exception):
    """The stream may no longer hold events the read models count: a rebuild would not count
    them."""


async def rebuild(
    sessions: SessionFactory,
    nats_url: str,
    *,
    partial: bool = False,
    nats_user: str | None = None,
    nats_password: SecretStr | None = None,
) -> Rebuilt:
    started = perf_counter()
    nc = await connect(nats_url, name="reporting-rebuild", user=nats_user, password=nats_password)
    try:
        async with sessions() as session, session.begin():
            read, applied, left_out, last = await _replay_afresh(session, nc.jetstream(), partial)
    finally:
        await nc.close()
    return Rebuilt(read, applied, left_out, last, perf_counter() - started)


async def _replay_afresh(
    session: AsyncSession, js: JetStreamContext, partial: bool
) -> tuple[int, int, int, int]:
    """Empty the read models and replay the stream into them: (events read, events applied,
    events left out, the last sequence replayed)."""
    await repository.lock_read_models(session)
    # Read the end only once locked: whatever the live consumer committed before the lock is
    # then at or before it, and is replayed here.
    info = await js.stream_info(STREAM_NAME)
    gone = dropped_before(info, utcnow())
    if gone is not None and not partial:
        raise HistoryGone(
            f"the stream keeps events {(info.config.max_age or 0) / 86400:g} days and was made on "
            f"{info.created:%Y-%m-%d}: what happened before {gone:%Y-%m-%d} may be gone, and "
            "rebuilt read models would not count it"
        )
    last = info.state.last_seq
    counted = None if partial else await repository.note_counted(session, CONSUMER)
    await repository.clear_read_models(session, CONSUMER)
    given_up = await repository.dead_lettered(session, CONSUMER)
    read = applied = left_out = 0
    # Messages that are no event (the consumer gave up on them): read, and left out.
    unreadable: list[int] = []
    chunks = replay_chunks(js, list(handlers), last=last, most=CHUNK, unreadable=unreadable.append)
    async for chunk in chunks:
        read += len(chunk)
        done, failed = await _apply_chunk(session, chunk, given_up)
        applied, left_out = applied + done, left_out + failed
    left_out += len(unreadable)
    if counted is not None:
        await _refuse_what_the_stream_lost(session, counted, applied)
    return read + len(unreadable), applied, left_out, last


async def _refuse_what_the_stream_lost(session: AsyncSession, counted: bool, applied: int) -> None:
    """Refuse the replay when the read models counted events it did not find (`counted`:
    whether they held anything), saying what the reports would lose."""
    lost = await repository.unreplayed(session, CONSUMER)
    if lost is not None:
        raise HistoryGone(
            f"the stream no longer holds {lost.events:,} events the read models count, made "
            f"from {lost.first_made:%Y-%m-%d %H:%M} to {lost.last_made:%Y-%m-%d %H:%M} UTC: "
            "rebuilt read models would not count them"
        )
    if counted and not applied:
        raise HistoryGone(
            f"the stream {STREAM_NAME} holds no event for reporting, while the read models "
            "count some: rebuilt read models would count nothing"
        )


async def _apply_chunk(
    session: AsyncSession, envelopes: list[Envelope], given_up: set[UUID]
) -> tuple[int, int]:
    """Apply a chunk of the stream: (how many events were new and applied, how many of those
    the consumer gave up on failed again and are left out)."""
    applied = await _apply(session, [e for e in envelopes if e.id not in given_up])
    left_out = 0
    # What the consumer gave up on, one at a time, each undone on its own if it fails again.
    for envelope in (e for e in envelopes if e.id in given_up):
        try:
            async with session.begin_nested():
                new = await _apply(session, [envelope])
        except Exception:
            # Taken, as the consumer took it when it gave up: a copy of it (an erasure's,
            # emptied) is then dropped as one.
            await record_received(session, CONSUMER, [envelope.id])
            left_out += 1
        else:
            applied += new
    return applied, left_out


async def _apply(session: AsyncSession, envelopes: list[Envelope]) -> int:
    """Apply events as the consumer does a fetched batch: noted in the inbox, run by run;
    how many were new."""
    if not envelopes:
        return 0
    fresh = await record_received(session, CONSUMER, [envelope.id for envelope in envelopes])
    # A copy of an event inside the chunk applies once, as in the consumer's batch.
    new = [e for e in first_of_each(envelopes, lambda e: e.id) if e.id in fresh]
    for run in runs(new):
        await handlers[run[0].type](session, run)
    return len(new)
