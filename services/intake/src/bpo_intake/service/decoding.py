"""What PDFium and Pillow make of the bytes clients upload, worked out in a process apart.

Those bytes are nobody's to vouch for: a hostile or broken PDF can keep PDFium busy for
ever, take all the memory there is, or crash it. So the decoding runs in a process of its own
(one per service process, started on first use; PDFium is not thread-safe, so one document at
a time), with a time limit (per page, for a rendering) and a memory limit
(`BPO_INTAKE_DOCUMENT_DECODE_TIMEOUT_S`, `BPO_INTAKE_DOCUMENT_DECODE_MEMORY_MB`). A file that
holds it past the time, or makes it run out of memory or die, is Refused, and a new process
takes the next file.
"""

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

from bpo_intake.domain.documents import Refused

T = TypeVar("T")
MIB = 1024 * 1024


def _limit_memory(limit_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


class Decoder:
    """A process that runs domain functions on uploaded bytes within the limits."""

    def __init__(self, timeout_s: float, memory_mb: int) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        # Spawned, not forked: the service's process has threads (the event loop's, the
        # object store's) that a fork would copy in the middle of whatever they were doing.
        self._pool = ProcessPool(
            max_workers=1,
            initializer=_limit_memory,
            initargs=(memory_mb * MIB,),
            context=multiprocessing.get_context("spawn"),
        )
        # Started now, so that the first file read does not wait a second for it to start.
        self._pool.schedule(int)

    async def run(self, function: Callable[..., T], *args: Any, pages: int = 1) -> T:
        """`function(*args)` in the decoding process, given the time limit once per page (per
        file, for a zip's files); Refused when the bytes are too much for it (the time or
        memory limit, or a crash), as well as when the function refuses them."""
        timeout_s = self.timeout_s * pages
        future = self._pool.schedule(function, args=args, timeout=timeout_s)
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError as exc:
            raise Refused(f"reading it took longer than {timeout_s:g} s") from exc
        except (MemoryError, ProcessExpired) as exc:
            raise Refused(
                f"reading it takes more than {self.memory_mb} MiB of memory, or makes the "
                "reader fail"
            ) from exc


@cache
def decoder(timeout_s: float, memory_mb: int) -> Decoder:
    """The process's decoder for these limits (the settings name them)."""
    return Decoder(timeout_s, memory_mb)
