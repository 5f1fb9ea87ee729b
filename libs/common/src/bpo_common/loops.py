"""The one retrying loop every background worker runs on (relay, consumers, sweepers,
senders): a step again and again until the service stops, a failed step retried after a
growing delay, an idle wait when a step found nothing to do."""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

FIRST_BACKOFF_S = 0.05


def stop_if_cancelled() -> None:
    """Raise CancelledError when the current task has been cancelled, even if a library
    turned the cancellation into another error (nats-py raises ConnectionClosedError when
    the connection is already closed): a loop that retries on errors must still end when
    its service stops."""
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
        backoff = FIRST_BACKOFF_S
        if busy:
            await asyncio.sleep(0)  # let the rest of the service run between busy steps
        else:
            await idle()


def pause(seconds: float) -> Callable[[], Awaitable[None]]:
    """An idle wait of a fixed length, for `keep_running`."""

    async def wait() -> None:
        await asyncio.sleep(seconds)

    return wait
