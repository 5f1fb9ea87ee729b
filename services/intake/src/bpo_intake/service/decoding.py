"""What PDFium and Pillow make of the bytes clients upload, worked out in a process apart.

Those bytes are nobody's to vouch for: a hostile or broken PDF can keep PDFium busy for
ever, take all the memory there is, or crash it. So the decoding runs in a process of its own
(one per service process, started with it; PDFium is not thread-safe, so one file at a time),
within a time limit for each file, and for each page of a rendering
(`BPO_INTAKE_DOCUMENT_DECODE_TIMEOUT_S`), and a memory limit
(`BPO_INTAKE_DOCUMENT_DECODE_MEMORY_MB`). A file that holds it past the time, or makes it run
out of memory or crash, is Refused, and a new process takes the next file. A pool broken by a
process that died where it did not expect it (killed from outside while idle, say) is
replaced, and its file tried once more.
"""

import asyncio
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import structlog
from pebble import ProcessExpired, ProcessPool

from bpo_common.errors import Unavailable
from bpo_intake.domain import documents as domain
from bpo_intake.domain.documents import (
    Description,
    Limits,
    MemberRefused,
    Refused,
    RenderedPage,
)

T = TypeVar("T")
log = structlog.get_logger(__name__)
MIB = 1024 * 1024
# How the decoding process ends itself when a file or page is out of time (its watchdog).
_LATE = 75
# Past the deadlines the process keeps itself, the pool kills it: C code that holds the
# interpreter keeps the watchdog from running.
_SLACK_S = 10.0
# The signals of a crash (PDFium's checks trap): the file's doing. A SIGKILL is the system's,
# most likely for the memory the file took.
_CRASHES = {
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGABRT,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGTRAP,
}


# In the decoding process


def _limit_memory(limit_bytes: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


@dataclass
class _Watchdog:
    """Ends the process when what it watches runs past `limit_s` (from its start, or from the
    last `next` page), unless it has finished."""

    limit_s: float
    deadline: float = field(init=False)
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limit_s
        threading.Thread(target=self._watch, daemon=True).start()

    def next(self) -> None:
        self.deadline = time.monotonic() + self.limit_s

    def finish(self) -> None:
        with self.lock:  # never while the process ends itself, nor after
            self.finished = True

    def _watch(self) -> None:
        while not self.finished:
            time.sleep(0.05)
            with self.lock:
                if not self.finished and time.monotonic() > self.deadline:
                    os._exit(_LATE)


def _described(limit_s: float, filename: str, content: bytes, limits: Limits) -> Description:
    watchdog = _Watchdog(limit_s)
    try:
        return domain.describe(filename, content, limits)
    finally:
        watchdog.finish()


def _rendered(limit_s: float, kind: domain.MediaType, content: bytes) -> list[RenderedPage]:
    watchdog = _Watchdog(limit_s)
    pages = []
    try:
        for page in domain.render(kind, content):
            pages.append(page)
            watchdog.next()
    except MemoryError:
        raise
    except Exception as exc:  # bytes PDFium or Pillow cannot draw after all
        raise Refused(f"PDFium or Pillow cannot draw it: {exc!r}") from None
    finally:
        watchdog.finish()
    return pages


# In the service


class Decoder:
    """The process that reads uploaded bytes within the limits."""

    def __init__(self, timeout_s: float, memory_mb: int) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._pool = self._started()

    def _started(self) -> ProcessPool:
        # Spawned, not forked: the service's process has threads (the event loop's, the
        # object store's) that a fork would copy in the middle of whatever they were doing.
        pool = ProcessPool(
            max_workers=1,
            initializer=_limit_memory,
            initargs=(self.memory_mb * MIB,),
            context=multiprocessing.get_context("spawn"),
        )
        # Started now, so that the first file read does not wait a second for it to start.
        pool.schedule(int)
        return pool

    async def describe(self, filename: str, content: bytes, limits: Limits) -> Description:
        """What the file is; Refused saying why it cannot be stored."""
        return await self._run(_described, (filename, content, limits), units=1)

    async def describe_members(
        self, members: Sequence[tuple[str, bytes]], limits: Limits
    ) -> list[Description]:
        """What each member of a zip is, each read within its own limits, one after the
        other without a wait between them (all are handed over at once); MemberRefused
        naming the first that cannot be stored, those after it not read."""
        tasks = [(_described, (name, content, limits)) for name, content in members]
        scheduled = [await self._schedule(task, args, units=1) for task, args in tasks]
        try:
            described = []
            for (name, _), (task, args), future in zip(members, tasks, scheduled, strict=True):
                try:
                    described.append(await self._outcome(future, task, args, units=1))
                except Refused as exc:
                    raise MemberRefused(name, str(exc)) from exc
            return described
        finally:
            for future in scheduled:
                future.cancel()  # not started: not read

    async def render(
        self, kind: domain.MediaType, content: bytes, pages: int
    ) -> list[RenderedPage]:
        """The document's pages drawn; Refused when they cannot be."""
        return await self._run(_rendered, (kind, content), units=pages)

    def limit_s(self, units: int) -> float:
        """The longest a task of `units` files or pages is let run."""
        return self.timeout_s * units + _SLACK_S

    async def _run(self, task: Callable[..., T], args: tuple[Any, ...], units: int) -> T:
        return await self._outcome(await self._schedule(task, args, units), task, args, units)

    async def _schedule(
        self, task: Callable[..., T], args: tuple[Any, ...], units: int
    ) -> Future[T]:
        """The task handed to the decoding process, its time limit counted from its start."""
        if not self._pool.active:  # broken: a process died where the pool did not expect it
            log.warning("document_decoder_replaced")
            broken, self._pool = self._pool, self._started()
            broken.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            await asyncio.to_thread(broken.join, 5)  # its threads, pipes and process
        future: Future[T] = self._pool.schedule(
            task, args=(self.timeout_s, *args), timeout=self.limit_s(units)
        )
        return future

    async def _outcome(
        self,
        future: Future[T],
        task: Callable[..., T],
        args: tuple[Any, ...],
        units: int,
        *,
        again: bool = True,
    ) -> T:
        """What the scheduled task gave, or Refused saying why; a task whose pool broke
        under it is run once more in a new one."""
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError as exc:
            raise self._late() from exc
        except MemoryError as exc:
            raise self._too_large() from exc
        except ProcessExpired as exc:
            if exc.exitcode == _LATE:
                raise self._late() from exc
            if exc.exitcode is not None and -exc.exitcode in _CRASHES:
                raise Refused(
                    "PDFium or Pillow crashes on it: save it again (print it to a PDF, say) "
                    "and send that"
                ) from exc
            raise self._too_large() from exc  # killed, as the system kills for memory
        except RuntimeError as exc:  # the pool broken (BrokenProcessPool among them)
            if self._pool.active:
                raise  # the task's own
            if not again:
                raise Unavailable("the document reader does not start; retry later") from exc
        return await self._outcome(
            await self._schedule(task, args, units), task, args, units, again=False
        )

    def _late(self) -> Refused:
        return Refused(
            f"reading it (a page of it) took longer than {self.timeout_s:g} s: send it with "
            "fewer or simpler pages"
        )

    def _too_large(self) -> Refused:
        return Refused(
            f"reading it takes more than the {self.memory_mb} MiB of memory the reader has: "
            "lower its resolution or split it"
        )


@cache
def decoder(timeout_s: float, memory_mb: int) -> Decoder:
    """The process's decoder for these limits (the settings name them)."""
    return Decoder(timeout_s, memory_mb)
