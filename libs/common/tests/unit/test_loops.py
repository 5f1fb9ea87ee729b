"""The one retrying loop: it goes on after errors, waits when idle, and ends only when its
service stops, even if a library ate the cancellation."""

import asyncio

import pytest

from bpo_common import loops
from bpo_common.loops import keep_running


async def test_a_cancellation_turned_into_another_error_still_ends_the_loop() -> None:
    steps = 0

    async def step() -> bool:
        nonlocal steps
        steps += 1
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            # What nats-py does when the connection is already closed.
            raise ConnectionError("connection closed") from None
        return True

    task = asyncio.create_task(keep_running("test loop", step, loops.pause(0)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert steps == 1


async def test_a_failing_step_is_tried_again_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loops, "FIRST_BACKOFF_S", 0.001)
    outcomes: list[str] = []
    errors: list[Exception] = []
    done = asyncio.Event()

    async def step() -> bool:
        if len(outcomes) < 3:
            outcomes.append("failed")
            raise ConnectionError("the database is away")
        outcomes.append("worked")
        done.set()
        return True

    task = asyncio.create_task(
        keep_running("test loop", step, loops.pause(0), on_error=errors.append)
    )
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcomes[:4] == ["failed", "failed", "failed", "worked"]
    assert [str(error) for error in errors] == ["the database is away"] * 3


async def test_the_loop_waits_only_after_a_step_that_found_nothing_to_do() -> None:
    found = [True, True, False, True, False]
    events: list[str] = []
    done = asyncio.Event()

    async def step() -> bool:
        busy = found.pop(0)
        events.append("busy" if busy else "idle")
        if not found:
            done.set()
            await asyncio.sleep(10)
        return busy

    async def wait() -> None:
        events.append("wait")

    task = asyncio.create_task(keep_running("test loop", step, wait))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["busy", "busy", "idle", "wait", "busy", "idle"]


@pytest.mark.parametrize("swallowing", ["step", "idle wait"])
async def test_a_cancellation_a_library_swallowed_still_ends_the_loop(swallowing: str) -> None:
    calls: list[str] = []
    waiting = asyncio.Event()

    async def called(name: str) -> None:
        calls.append(name)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError  # the loop went on after it was cancelled: end it
        if name == swallowing:
            waiting.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return  # as Python 3.11's asyncio.wait_for may, when its wait ends meanwhile

    async def step() -> bool:
        await called("step")
        return False

    async def wait() -> None:
        await called("idle wait")

    task = asyncio.create_task(keep_running("test loop", step, wait))
    await asyncio.wait_for(waiting.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == (["step"] if swallowing == "step" else ["step", "idle wait"])
