"""OCR of a page image with Tesseract (Debian's package, with its English and German models),
run as a process per page: words with their boxes and Tesseract's confidence in each.

One page at a time per worker, each Tesseract on one thread: two worker processes keep two
cores busy, and a page that fails or hangs costs only itself.
"""

import asyncio
import csv
import io
import os
import signal
from dataclasses import dataclass

from PIL import Image

from bpo_intake.domain.words import Word

# Tesseract's row level of a word in its TSV output.
_WORD_LEVEL = "5"


class OcrFailed(Exception):
    """The page cannot be read: its image, or what Tesseract made of it."""


class OcrUnavailable(Exception):
    """Tesseract cannot read any page: its languages or data are missing, or it was killed.
    Not the page's fault: the pages wait for an engine that works. (A crash on a page while a
    blank page still reads is the page's: `Tesseract.read` says OcrFailed.)"""


class OcrNotNow(Exception):
    """The page was not read this time, through no fault known to be its own: Tesseract ran
    out of time on it, or was killed (for memory, say) while it still reads a blank page. It
    is read again later, a few times, before it is taken as having no words."""


class OcrKilled(OcrUnavailable):
    """Tesseract crashed (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL): on a page it breaks on,
    or for a reason of its own. (Killed by the system, for memory or a stop, it is unavailable
    while it reads no blank page either; if it does, the page is read again later.)"""


# The signals of a crash: a page may cause one. SIGKILL (out of memory) and a stop's SIGTERM
# or SIGINT are the machine's, or the page's if it is killed on it again and again (OcrNotNow:
# one killed extraction.READ_ATTEMPTS times while a blank page reads has no words).
_CRASHES = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}


# What Tesseract says when it cannot start on any page.
_ENGINE_ERRORS = ("Failed loading language", "Error opening data file", "Could not initialize")


@dataclass(frozen=True)
class Tesseract:
    languages: str = "eng+deu"
    timeout_s: float = 120.0
    executable: str = "tesseract"

    async def read(self, image: bytes) -> list[Word]:
        """The words Tesseract reads on the image (any format Pillow opens). Its global
        threshold (Otsu's) loses some noisy scans whole; those are read again with a local
        one (Sauvola's)."""
        try:
            png, size = await asyncio.to_thread(_as_png, image)
        except Exception as exc:  # whatever decoding the bytes raises is the image's fault
            raise OcrFailed(f"the page image does not open: {exc!r}") from exc
        try:
            words = await self._read(png, size)
            if not words:
                words = await self._read(png, size, "-c", "thresholding_method=2")
        except OcrKilled as exc:
            # One page that kills it every time would hold every later page back for ever:
            # if it reads a blank page, this page is at fault.
            if await self._reads_a_blank_page():
                raise OcrFailed(f"{exc} on this page; it reads others") from exc
            raise
        except OcrUnavailable as exc:
            # Killed otherwise (for memory, say): the page's doing, or the machine's for now.
            if await self._reads_a_blank_page():
                raise OcrNotNow(f"{exc} on this page; it reads others") from exc
            raise
        return words

    async def _reads_a_blank_page(self) -> bool:
        out = io.BytesIO()
        Image.new("L", (64, 64), 255).save(out, "PNG")
        try:
            await self._read(out.getvalue(), (64, 64))
        except (OcrFailed, OcrUnavailable, OcrNotNow):
            return False
        return True

    async def _read(self, png: bytes, size: tuple[int, int], *options: str) -> list[Word]:
        process = await asyncio.create_subprocess_exec(
            self.executable,
            "stdin",
            "stdout",
            "-l",
            self.languages,
            "--psm",
            "3",
            *options,
            "tsv",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(png), self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise OcrNotNow(f"tesseract took longer than {self.timeout_s} s") from None
        said = err.decode(errors="replace").strip()[-500:]
        if process.returncode is not None and process.returncode < 0:
            killed = f"tesseract was killed (signal {-process.returncode})"
            raise OcrKilled(killed) if -process.returncode in _CRASHES else OcrUnavailable(killed)
        if process.returncode != 0 and any(error in said for error in _ENGINE_ERRORS):
            raise OcrUnavailable(said)
        if process.returncode != 0:
            raise OcrFailed(said)
        return words_of(out.decode(errors="replace"), *size)


def words_of(tsv: str, width: int, height: int) -> list[Word]:
    """The words of Tesseract's TSV, their boxes as fractions of the page."""
    words = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != _WORD_LEVEL or not text:
            continue
        left, top = int(row["left"]), int(row["top"])
        right, bottom = left + int(row["width"]), top + int(row["height"])
        words.append(
            Word(
                text,
                (
                    round(left / width, 4),
                    round(top / height, 4),
                    round(right / width, 4),
                    round(bottom / height, 4),
                ),
                max(float(row["conf"]), 0.0) / 100,
            )
        )
    return words


def _as_png(image: bytes) -> tuple[bytes, tuple[int, int]]:
    """The image as a grey PNG, which every Tesseract build reads, and its size."""
    with Image.open(io.BytesIO(image)) as opened:
        grey = opened.convert("L")
    out = io.BytesIO()
    grey.save(out, "PNG", compress_level=1)
    return out.getvalue(), grey.size
