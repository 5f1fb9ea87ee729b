"""Waking background loops when PostgreSQL says there is work for them, instead of polling.

A transaction that leaves work behind notifies a channel (`notify`: PostgreSQL delivers the
notification when the transaction commits, and never if it rolls back). A process listens on
one connection for every channel its loops wait on (`Notifications`, opened at the first
wait); each loop waits on its own `Waiter`, until its channel is notified or its longest wait
has passed. When the listening connection is lost (found within about a minute when its
server vanished without closing it: bpo_common.db) every waiter wakes, and the next wait
opens it again; a notification sent meanwhile is lost, so a waiter wakes once more whenever
its channel is listened to anew, and the longest wait is a poll besides.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import asyncpg
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import open_connection

log = structlog.get_logger(__name__)


async def notify(session: AsyncSession, channel: str) -> None:
    """Notify `channel` when the session's transaction commits."""
    await session.execute(select(func.pg_notify(channel, "")))


class Notifications:
    """The channels a process's loops wait on, listened to on one connection to `dsn`."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._waiting: dict[str, list[asyncio.Event]] = {}
        self._connection: asyncpg.Connection | None = None
        self._listening: set[str] = set()
        # Loops start together: one of them connects.
        self._lock = asyncio.Lock()
        self._closed = False

    def waiter(self, channel: str) -> "Waiter":
        """A loop's own wait on `channel`: every waiter of a channel wakes at its
        notifications."""
        event = asyncio.Event()
        self._waiting.setdefault(channel, []).append(event)
        return Waiter(self, event)

    async def listen(self) -> None:
        """Listen on every channel waited on, connecting first if there is no open connection;
        a failure is logged, and tried again at the next wait (a loop's wait never fails).
        Once listening on a channel anew, its waiters wake once: what was committed while
        nobody listened is looked for at once, not at the end of a longest wait."""
        async with self._lock:
            if self._closed:
                return
            try:
                fresh = await self._listen()
            except Exception as exc:
                log.warning("notifications unavailable, polling instead", error=repr(exc))
                if self._connection is not None:
                    self._connection.terminate()
                self._connection = None
                return
        self._wake(fresh)

    async def _listen(self) -> set[str]:
        if self._connection is None or self._connection.is_closed():
            self._listening = set()
            async with asyncio.timeout(5):
                self._connection = await open_connection(self.dsn)
            self._connection.add_termination_listener(self._lost)
        fresh = self._waiting.keys() - self._listening
        for channel in fresh:
            await self._connection.add_listener(channel, self._notified)
            self._listening.add(channel)
        return fresh

    def _notified(self, _connection: object, _pid: int, channel: str, _payload: str) -> None:
        self._wake([channel])

    def _lost(self, _connection: object) -> None:
        """The connection closed (the server went away): every waiter wakes, looks, and
        listens again at its next wait, instead of sleeping out its longest wait deaf."""
        self._wake(self._waiting)

    def _wake(self, channels: Iterable[str]) -> None:
        for channel in channels:
            for event in self._waiting.get(channel, ()):
                event.set()

    async def close(self) -> None:
        """Stop listening, for good (the process is stopping)."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=1)
            except Exception:
                connection.terminate()


@dataclass
class Waiter:
    """One loop's wait on a channel (a waiter shared by two loops would let one of them miss a
    notification: the other's wait clears it)."""

    notifications: Notifications
    event: asyncio.Event

    async def wait(self, longest_s: float, *, linger_s: float = 0.0) -> bool:
        """Until the channel is notified (True; then `linger_s` more, so that the commits of
        the next moments are seen by the same pass) or `longest_s` has passed (False)."""
        await self.notifications.listen()
        try:
            await asyncio.wait_for(self.event.wait(), longest_s)
        except TimeoutError:
            return False
        await asyncio.sleep(linger_s)
        self.event.clear()
        return True

    def pause(self, longest_s: float) -> Callable[[], Awaitable[None]]:
        """An idle wait for `bpo_common.loops.keep_running`: until notified, or `longest_s`."""

        async def wait() -> None:
            await self.wait(longest_s)

        return wait
