"""The one retrying loop every background worker runs on (relay, consumers, sweepers,
senders): a step again and again until the service stops, a failed step retried after a
growing delay, an idle wait when a step found nothing to do. And start-up's retry: a step
tried until it succeeds, while its server is away, up to a deadline."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)

FIRST_BACKOFF_S = 0.05

T = TypeVar("T")


def stop_if_cancelled() -> None:
    """Raise CancelledError when the current task has been cancelled, even if a library
    turned the cancellation into another error (nats-py raises ConnectionClosedError when
    the connection is already closed) or swallowed it (Python 3.11's asyncio.wait_for returns
    what it waited for when that ends as the cancellation comes, as a notified idle wait
    does): a loop that retries on errors must still end when its service stops."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def keep_running(
    name: str,
    step: Callable[[], Awaitable[bool]],
    idle: Callable[[], Awaitable[None]],
    *,
    max_backoff_s: float = 5.0,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Run `step` until cancelled. `step` says whether it may have left work behind (a full
    batch): if not, `idle` waits before the next step. An error (a database or NATS that is
    away) is logged and the step tried again after a delay that doubles up to
    `max_backoff_s`; the loop never ends on an error, only when its task is cancelled."""
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            busy = await step()
        except Exception as exc:
            stop_if_cancelled()
            if on_error is not None:
                on_error(exc)
            log.warning(f"{name} failed, retrying", error=repr(exc), retry_in_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        stop_if_cancelled()
        backoff = FIRST_BACKOFF_S
        if busy:
            await asyncio.sleep(0)  # let the rest of the service run between busy steps
        else:
            await idle()
            stop_if_cancelled()


def pause(seconds: float) -> Callable[[], Awaitable[None]]:
    """An idle wait of a fixed length, for `keep_running`."""

    async def wait() -> None:
        await asyncio.sleep(seconds)

    return wait


async def retry_until(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    passing: Callable[[Exception], bool],
    timeout_s: float,
    first_delay_s: float = 0.1,
    max_delay_s: float = 2.0,
) -> T:
    """`attempt` until it succeeds. An error `passing` says will pass (its server away or
    restarting) is logged as `what` and the attempt made again after a delay that doubles up
    to `max_delay_s`, until `timeout_s` has gone by; any other error, or one past the
    deadline, is raised."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    delay = first_delay_s
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not passing(exc) or asyncio.get_running_loop().time() + delay > deadline:
                raise
            log.warning(what, error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
