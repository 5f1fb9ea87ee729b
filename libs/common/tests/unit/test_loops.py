"""A background loop ends when its service stops, even if a library ate the cancellation."""

import asyncio

import pytest

from bpo_common.loops import stop_if_cancelled


async def test_a_cancellation_turned_into_another_error_still_ends_the_loop() -> None:
    rounds = 0

    async def retrying_loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            try:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    # What nats-py does when the connection is already closed.
                    raise ConnectionError("connection closed") from None
            except Exception:
                stop_if_cancelled()

    task = asyncio.create_task(retrying_loop())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert rounds == 1


async def test_an_error_without_a_cancellation_lets_the_loop_go_on() -> None:
    try:
        raise ConnectionError("the database is away")
    except ConnectionError:
        stop_if_cancelled()  # nothing cancelled this task: no CancelledError
