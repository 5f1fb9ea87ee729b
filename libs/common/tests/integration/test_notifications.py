"""Loops woken by PostgreSQL's notifications (bpo_common.notifications): a committed notify
wakes every waiter of its channel and no other, a rolled-back one wakes nobody, a waiter wakes
once whenever its channel is listened to anew, and one whose listening connection the server
closed wakes at once and listens again at its next wait."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from bpo_common.notifications import Notifications, Waiter, notify

from .conftest import Plumbing

# Long enough that a wait ending by its clock, not by a notification, fails the test.
NEVER_S = 30.0


@pytest.fixture
async def notifications(plumbing: Plumbing) -> AsyncIterator[Notifications]:
    listening = Notifications(plumbing.dsn)
    try:
        yield listening
    finally:
        await listening.close()


def _channel() -> str:
    return f"test_{uuid4().hex}"


async def _notify(plumbing: Plumbing, channel: str, *, commit: bool = True) -> None:
    async with plumbing.sessions() as session:
        await notify(session, channel)
        if commit:
            await session.commit()
        else:
            await session.rollback()


async def _listening(notifications: Notifications, *waiters: Waiter) -> None:
    """Listen; each waiter wakes once, at once (what was committed before it listened is
    looked for)."""
    await notifications.listen()
    assert await asyncio.gather(*(waiter.wait(NEVER_S) for waiter in waiters)) == [True] * len(
        waiters
    )


async def test_a_committed_notify_wakes_every_waiter_of_its_channel_and_no_other(
    plumbing: Plumbing, notifications: Notifications
) -> None:
    channel, other = _channel(), _channel()
    first, second = notifications.waiter(channel), notifications.waiter(channel)
    elsewhere = notifications.waiter(other)
    await _listening(notifications, first, second, elsewhere)
    waits = [asyncio.create_task(waiter.wait(NEVER_S)) for waiter in (first, second)]
    await _notify(plumbing, channel)
    assert await asyncio.gather(*waits) == [True, True]
    assert await elsewhere.wait(0.5) is False


async def test_a_rolled_back_notify_wakes_nobody(
    plumbing: Plumbing, notifications: Notifications
) -> None:
    waiter = notifications.waiter(channel := _channel())
    await _listening(notifications, waiter)
    await _notify(plumbing, channel, commit=False)
    assert await waiter.wait(0.5) is False


async def test_a_waiter_wakes_when_the_server_closes_its_connection_and_listens_again(
    plumbing: Plumbing, notifications: Notifications
) -> None:
    waiter = notifications.waiter(channel := _channel())
    await _listening(notifications, waiter)
    # Waiting when the server closes the connection: the wait ends at once.
    deaf = asyncio.create_task(waiter.wait(NEVER_S))
    await asyncio.sleep(0.05)
    admin = await asyncpg.connect(plumbing.dsn)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND query LIKE $1",
            f"LISTEN%{channel}%",
        )
    finally:
        await admin.close()
    assert ended == 1
    assert await deaf is True
    # The wait that follows listens again, and so wakes at once; a notify then wakes the next.
    assert await waiter.wait(NEVER_S) is True
    wait = asyncio.create_task(waiter.wait(NEVER_S))
    for _ in range(100):
        if wait.done():
            break
        await _notify(plumbing, channel)
        await asyncio.sleep(0.05)
    assert await wait is True
