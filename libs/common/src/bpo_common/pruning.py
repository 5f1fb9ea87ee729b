"""Rows of the plumbing kept for a while, then deleted: outbox rows once the stream holds
their events (`BPO_OUTBOX_KEEP_HOURS`), the answers kept for Idempotency-Key replays
(`BPO_IDEMPOTENCY_KEEP_HOURS`), and what a service keeps of keyed requests in tables of its
own (a claim's leased tasks) as long, and the inbox's record of an event once the stream no
longer holds it (`BPO_STREAM_MAX_AGE_DAYS`, and a week more). The tables would otherwise grow
with every event and every keyed request the service ever had, with what the first two carry:
values sealed with keys that may live on (an item erased without its job), documents' names
in upload answers."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Delete, Table, delete, select, tuple_

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.loops import keep_running, pause
from bpo_common.tables import idempotency_key, inbox_event, outbox_event

# An inbox row outlives the stream's copy of its event by this much: a copy the relay sent
# again, late, is still known when it comes (clocks of NATS and PostgreSQL apart, too).
INBOX_MARGIN = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Pruner:
    """Deletes sent outbox rows older than `outbox_keep`, idempotency answers and the rows of
    the service's `keyed` tables (each with a `created_at`) older than `idempotency_keep` and,
    when the stream drops events after `stream_max_age` (None: it
    keeps them for ever), the `consumers`' inbox rows of events received longer ago than that
    and INBOX_MARGIN: no delivery can bring those events again. `batch_size` rows a
    statement, then waits `every_s`. Outbox and inbox rows are found by their ids: UUIDv7s,
    whose order is their creation's, so the primary key finds the old ones without a scan of
    the table (an event is made before it is received)."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        outbox_keep: timedelta,
        idempotency_keep: timedelta,
        keyed: Sequence[Table] = (),
        stream_max_age: timedelta | None = None,
        consumers: Sequence[str] = (),
        batch_size: int = 5_000,
        every_s: float = 600.0,
    ) -> None:
        self._sessions = sessions
        self._outbox_keep = outbox_keep
        self._idempotency_keep = idempotency_keep
        self._keyed = [idempotency_key, *keyed]
        self._inbox_keep = None if stream_max_age is None else stream_max_age + INBOX_MARGIN
        self._consumers = list(consumers)
        self._batch_size = batch_size
        self._every_s = every_s

    async def run(self) -> None:
        """Prune until cancelled."""
        await keep_running("pruner", self._prune_a_batch, pause(self._every_s))

    async def _prune_a_batch(self) -> bool:
        return await self.prune_once() >= self._batch_size

    async def prune_once(self) -> int:
        """Delete up to a batch of each; returns the most rows one statement deleted."""
        now = utcnow()
        deleted = [await self._deleted(_sent_before(now - self._outbox_keep, self._batch_size))]
        for table in self._keyed:
            cutoff = now - self._idempotency_keep
            deleted.append(await self._deleted(_answered_before(table, cutoff, self._batch_size)))
        if self._consumers and self._inbox_keep is not None and now - _EPOCH > self._inbox_keep:
            cutoff = now - self._inbox_keep
            deleted.append(
                await self._deleted(_received_before(cutoff, self._consumers, self._batch_size))
            )
        return max(deleted)

    async def _deleted(self, statement: Delete) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(statement)
        return int(cast(CursorResult[Any], result).rowcount)


def _made_before(moment: datetime) -> UUID:
    """The least UUIDv7 of the moment's millisecond: every id made before it is lower."""
    return UUID(int=int(moment.timestamp() * 1000) << 80)


def _sent_before(cutoff: datetime, limit: int) -> Delete:
    old = (
        select(outbox_event.c.id)
        .where(outbox_event.c.id < _made_before(cutoff), outbox_event.c.sent_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(outbox_event).where(outbox_event.c.id.in_(old))


def _answered_before(table: Table, cutoff: datetime, limit: int) -> Delete:
    """The table's rows made before `cutoff`, found by their primary key."""
    key = tuple_(*table.primary_key.columns)
    old = (
        select(*table.primary_key.columns)
        .where(table.c.created_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(table).where(key.in_(old))


def _received_before(cutoff: datetime, consumers: Sequence[str], limit: int) -> Delete:
    key = tuple_(inbox_event.c.consumer, inbox_event.c.event_id)
    old = (
        select(inbox_event.c.consumer, inbox_event.c.event_id)
        .where(
            inbox_event.c.consumer.in_(consumers),
            inbox_event.c.event_id < _made_before(cutoff),
            inbox_event.c.received_at < cutoff,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(inbox_event).where(key.in_(old))
