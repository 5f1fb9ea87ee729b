"""What every background loop of the services (relay, consumers, sweepers) shares."""

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError when the current task has been cancelled, even if a library
    turned the cancellation into another error (nats-py raises ConnectionClosedError when
    the connection is already closed): a loop that retries on errors must still end when
    its service stops."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
