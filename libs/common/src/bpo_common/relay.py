"""The outbox relay: publishes committed outbox rows to JetStream and marks them sent.

Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of replicas relay side by side.
It selects every unsent row rather than reading past a high-water mark, so a row that
committed after a later one is still picked up. One statement claims a batch and marks it
sent; the transaction commits only once JetStream answered for every row of it (a row it did
not ack goes back to unsent), so the rows of a relay that dies before stay unsent. Each
publish carries `Nats-Msg-Id` = event id: a row published by a relay that died before
committing is published again, and JetStream (inside its duplicate window) or the consumer's
inbox drops the copy. A pass waits at most its publish timeout for the client and
JetStream together, so its transaction ends even when NATS is away or stuck; what was not
acked by then goes back to unsent.
A sent row is kept for `BPO_OUTBOX_KEEP_HOURS`, then deleted (bpo_common.pruning).
"""

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.client import NO_RESPONDERS_STATUS
from nats.js.errors import APIError, NoStreamResponseError
from sqlalchemy import Update, bindparam, select, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory, as_arrays, update_arrays
from bpo_common.loops import keep_running
from bpo_common.metrics import OUTBOX_FAILURES, OUTBOX_PUBLISHED
from bpo_common.notifications import Waiter
from bpo_common.tables import outbox_event

log = structlog.get_logger(__name__)

AfterPublish = Callable[[Sequence[UUID]], Awaitable[None]]


def _claim(batch_size: int) -> Update:
    """The oldest unsent rows nobody else holds, marked sent and returned, in one statement:
    by creation, then id (one transaction's rows share their created_at, and lie in no
    particular order). The batch is chosen once (a materialized CTE: a subquery in the WHERE
    could be run again for each row the UPDATE scans, and each run would lock rows of its
    own)."""
    batch = (
        select(outbox_event.c.id)
        .where(outbox_event.c.sent_at.is_(None))
        .order_by(outbox_event.c.created_at, outbox_event.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("batch")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(outbox_event)
        .where(outbox_event.c.id == batch.c.id)
        .values(sent_at=bindparam("sent_at", type_=outbox_event.c.sent_at.type))
        .returning(
            outbox_event.c.id,
            outbox_event.c.subject,
            outbox_event.c.payload,
            outbox_event.c.created_at,
        )
    )


# The rows JetStream did not ack go back to unsent, each with its error.
_UNSENT_AGAIN = update_arrays(outbox_event, "id", ["last_error"]).values(
    sent_at=None, publish_attempts=outbox_event.c.publish_attempts + 1
)


def _headers(event_id: UUID) -> dict[str, str]:
    """A message's headers: its event id, by which JetStream drops a copy."""
    return {"Nats-Msg-Id": str(event_id)}


def _size(payload: bytes, event_id: UUID) -> int:
    """What the server counts of a message against its largest: the payload and the block of
    headers before it, as the client writes it (`NATS/1.0`, a line per header, a blank line).
    The client compares the payload alone; a message within that but past the server's
    limit with its headers would have the server close the connection, and every later row
    with it."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in _headers(event_id).items())
    return len(payload) + len(f"NATS/1.0\r\n{lines}\r\n".encode())


class _Acks:
    """Publishes to JetStream, each awaiting its ack through a future of the relay's own.
    nats-py's `publish_async` takes one of a fixed number of permits, and registers the future
    that gives it back, before it hands the message to the client; when the client refuses
    the message (reconnecting with its buffer full, or closed) or the publish is cancelled,
    that future is returned to no one and never done, and its permit never comes back: once
    all are gone, `publish_async` waits for ever. Here a publish that fails drops its future,
    and nothing is taken that it could keep (the batch bounds the acks awaited at once)."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._inbox = ""
        self._tokens = itertools.count()
        self._waiting: dict[str, asyncio.Future[None]] = {}

    async def publish(self, subject: str, payload: bytes, event_id: UUID) -> asyncio.Future[None]:
        """Hand the message to the client; the future is done when JetStream answers, with
        JetStream's error if it refused the message."""
        if not self._inbox:
            inbox = self._nc.new_inbox()
            await self._nc.subscribe(f"{inbox}.*", cb=self._answered)
            self._inbox = inbox
        token = str(next(self._tokens))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[token] = acked
        acked.add_done_callback(lambda _: self._waiting.pop(token, None))
        try:
            await self._nc.publish(
                subject, payload, reply=f"{self._inbox}.{token}", headers=_headers(event_id)
            )
        except BaseException:
            acked.cancel()
            raise
        return acked

    async def _answered(self, msg: Msg) -> None:
        acked = self._waiting.get(msg.subject.rpartition(".")[2])
        if acked is None or acked.done():
            return  # the relay stopped waiting for it
        if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS_STATUS:
            acked.set_exception(NoStreamResponseError())
            return
        answer = json.loads(msg.data)
        if "error" not in answer:
            acked.set_result(None)
            return
        try:
            APIError.from_error(answer["error"])  # raises the error of the code given
        except APIError as refused:
            acked.set_exception(refused)


_NOT_HANDED_OVER = "not handed to NATS in time"


def _result(sent: "asyncio.Future[Any] | BaseException") -> BaseException | None:
    if isinstance(sent, BaseException):
        return sent
    if sent.cancelled():
        return TimeoutError("no ack from JetStream in time")
    return sent.exception()


class OutboxRelay:
    def __init__(
        self,
        sessions: SessionFactory,
        js: JetStreamContext,
        *,
        wakeups: Waiter | None = None,
        batch_size: int = 500,
        idle_wait_s: float = 1.0,
        publish_timeout_s: float = 10.0,
        max_backoff_s: float = 5.0,
        gather_s: float = 0.02,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self._sessions = sessions
        self._nc = js._nc
        self._acks = _Acks(self._nc)
        self._wakeups = wakeups
        self._batch_size = batch_size
        self._idle_wait_s = idle_wait_s
        self._publish_timeout_s = publish_timeout_s
        self._max_backoff_s = max_backoff_s
        self._gather_s = gather_s
        self._after_publish = after_publish
        self._claim = _claim(batch_size)
        # The error a pass raised for its rows, each already counted with its row.
        self._rows_counted: BaseException | None = None

    async def run(self) -> None:
        """Relay until cancelled; while NATS or the database is away, retry with backoff."""
        await keep_running(
            "outbox relay",
            self._relay_a_batch,
            self._wait_for_work,
            max_backoff_s=self._max_backoff_s,
            on_error=self._count_failed_pass,
        )

    def _count_failed_pass(self, error: Exception) -> None:
        """A pass that failed before its rows were published (the database away, the client
        failing) counts once; a pass that failed because none of its rows was published was
        counted row by row."""
        if error is not self._rows_counted:
            OUTBOX_FAILURES.inc()

    async def _relay_a_batch(self) -> bool:
        """One batch; True when it was full, so that more rows may be waiting (whether or not
        each was sent: a row that keeps failing must not slow the rows behind it)."""
        claimed, _ = await self._relay()
        return claimed >= self._batch_size

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published. Rows JetStream
        did not ack stay unsent, with their attempt and error, and each is counted in
        `OUTBOX_FAILURES`; when none was acked, the first error is raised (after that is
        committed), so that the loop backs off, and otherwise each such row is logged."""
        _, sent = await self._relay()
        return sent

    async def _relay(self) -> tuple[int, int]:
        """One batch: how many rows it claimed, and how many of them were published."""
        async with self._sessions() as session, session.begin():
            claimed = (await session.execute(self._claim, {"sent_at": utcnow()})).all()
            if not claimed:
                return 0, 0
            # Within the batch, in the order they were written (UUIDv7 ids order a
            # transaction's own rows, which share created_at).
            rows = sorted(claimed, key=lambda row: (row.created_at, row.id))
            results = await self._publish(rows)
            sent = [row.id for row, result in zip(rows, results, strict=True) if result is None]
            failed = [
                (row, result)
                for row, result in zip(rows, results, strict=True)
                if result is not None
            ]
            if self._after_publish is not None:
                await self._after_publish(sent)
            if failed:
                rows_failed = [{"id": row.id, "last_error": repr(error)} for row, error in failed]
                await session.execute(_UNSENT_AGAIN, as_arrays(rows_failed, ["id", "last_error"]))
        OUTBOX_PUBLISHED.inc(len(sent))
        OUTBOX_FAILURES.inc(len(failed))
        if failed and not sent:
            # NATS away, or every row refused: the loop logs the error and backs off.
            self._rows_counted = failed[0][1]
            raise failed[0][1]
        # Rows that failed while others were sent (too large for the server, a subject no
        # stream takes) would otherwise fail pass after pass with no word: each is named by
        # its type (the subject) and id, never its payload, which holds client values.
        for row, error in failed:
            log.warning(
                "outbox event not published, left for the next pass",
                event_type=row.subject,
                event_id=str(row.id),
                error=repr(error),
            )
        return len(claimed), len(sent)

    async def _publish(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Publish all rows with acks in flight together; one result per row, None when acked.
        All of it within the publish timeout, whatever the client does (one whose server
        stopped reading holds a publish, and nats-py may eat the cancellation that ends it):
        a row not handed over by then fails, and so does one not acked. A row larger than the
        server takes, its headers counted, fails alone, without being handed to the client.
        Any other client error abandons the batch (raised)."""
        clock = asyncio.get_running_loop().time
        deadline = clock() + self._publish_timeout_s
        largest = self._nc.max_payload
        sent: list[asyncio.Future[None] | BaseException] = []
        try:
            for row in rows:
                if _size(row.payload, row.id) > largest:
                    sent.append(MaxPayloadError())
                elif clock() >= deadline:
                    sent.append(TimeoutError(_NOT_HANDED_OVER))
                else:
                    sent.append(await self._hand_over(row, deadline))
            futures = [future for future in sent if isinstance(future, asyncio.Future)]
            if futures:
                await asyncio.wait(futures, timeout=max(deadline - clock(), 0))
        finally:
            for future in sent:
                if isinstance(future, asyncio.Future) and not future.done():
                    future.cancel()
        return [_result(future) for future in sent]

    async def _hand_over(self, row: Any, deadline: float) -> asyncio.Future[None] | BaseException:
        """The row handed to the client by `deadline`: the future of its ack, or the timeout."""
        try:
            async with asyncio.timeout_at(deadline):
                return await self._acks.publish(row.subject, row.payload, row.id)
        except TimeoutError:
            return TimeoutError(_NOT_HANDED_OVER)

    async def _wait_for_work(self) -> None:
        """Sleep until a commit notifies the outbox channel (then let the commits of the next
        few milliseconds join this batch: one relay pass for many events costs the service far
        less than one pass per event), or the idle wait ends."""
        if self._wakeups is None:
            await asyncio.sleep(self._idle_wait_s)
        else:
            await self._wakeups.wait(self._idle_wait_s, linger_s=self._gather_s)
