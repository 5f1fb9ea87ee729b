"""Rows of the plumbing kept for a while, then deleted: outbox rows once the stream holds
their events (`BPO_OUTBOX_KEEP_HOURS`), and the answers kept for Idempotency-Key replays
(`BPO_IDEMPOTENCY_KEEP_HOURS`). Both tables would otherwise grow with every event and every
keyed request the service ever had, with what they carry: values sealed with keys that may
live on (an item erased without its job), documents' names in upload answers."""

from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, Delete, delete, select, tuple_

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.loops import keep_running, pause
from bpo_common.tables import idempotency_key, outbox_event


class Pruner:
    """Deletes sent outbox rows older than `outbox_keep` and idempotency answers older than
    `idempotency_keep`, `batch_size` rows a statement, then waits `every_s`. Outbox rows are
    found by their ids: UUIDv7s, whose order is their creation's, so the primary key finds the
    old ones without a scan of the table."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        outbox_keep: timedelta,
        idempotency_keep: timedelta,
        batch_size: int = 5_000,
        every_s: float = 600.0,
    ) -> None:
        self._sessions = sessions
        self._outbox_keep = outbox_keep
        self._idempotency_keep = idempotency_keep
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
        return max(
            await self._deleted(_sent_before(now - self._outbox_keep, self._batch_size)),
            await self._deleted(_answered_before(now - self._idempotency_keep, self._batch_size)),
        )

    async def _deleted(self, statement: Delete) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(statement)
        return int(cast(CursorResult[Any], result).rowcount)


def _sent_before(cutoff: datetime, limit: int) -> Delete:
    # The least UUIDv7 of the cutoff's millisecond: every id made before it is lower.
    bound = UUID(int=int(cutoff.timestamp() * 1000) << 80)
    old = (
        select(outbox_event.c.id)
        .where(outbox_event.c.id < bound, outbox_event.c.sent_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(outbox_event).where(outbox_event.c.id.in_(old))


def _answered_before(cutoff: datetime, limit: int) -> Delete:
    key = tuple_(idempotency_key.c.principal, idempotency_key.c.key)
    old = (
        select(idempotency_key.c.principal, idempotency_key.c.key)
        .where(idempotency_key.c.created_at < cutoff)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return delete(idempotency_key).where(key.in_(old))
