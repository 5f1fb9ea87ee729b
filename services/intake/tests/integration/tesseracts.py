"""Tesseract as it is, behind a wrapper of the test's that may end it first, or hold it, as the
test says."""

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bpo_intake.service.ocr import Tesseract
from bpo_intake.settings import Settings


@dataclass(frozen=True)
class WrappedTesseract:
    """The wrapper (an executable named `tesseract`), and where it counts its calls."""

    executable: Path
    calls: Path

    def called(self) -> int:
        return int(self.calls.read_text())


def wrapped_tesseract(directory: Path, *before: str) -> WrappedTesseract:
    """A wrapper in `directory` that runs the lines of Python given before Tesseract, which may
    end it first (they see the image as `image`, and `calls`: how many calls came before this
    one; os, pathlib, subprocess, sys and time are imported)."""
    wrapper, counter = directory / "tesseract", directory / "calls"
    counter.write_text("0")
    wrapper.write_text(
        "\n".join(
            [
                f"#!{sys.executable}",
                "import os, pathlib, subprocess, sys, time",
                "image = sys.stdin.buffer.read()",
                f"counter = pathlib.Path({str(counter)!r})",
                "calls = int(counter.read_text())",
                # Replaced whole, never seen empty by the test reading it meanwhile.
                "written = counter.with_name(f'calls.{os.getpid()}')",
                "written.write_text(str(calls + 1))",
                "os.replace(written, counter)",
                *before,
                f"done = subprocess.run([{shutil.which('tesseract')!r}, *sys.argv[1:]],",
                "                      input=image, capture_output=True)",
                "sys.stdout.buffer.write(done.stdout)",
                "sys.exit(done.returncode)",
                "",
            ]
        )
    )
    wrapper.chmod(0o755)
    return WrappedTesseract(wrapper, counter)


def held_tesseract(directory: Path, settings: Settings) -> tuple[WrappedTesseract, Tesseract, Path]:
    """A Tesseract held before each read until the test lets it go, by making the file it is
    given (in `directory`): the wrapper, the engine the reader reads with, and that file."""
    go = directory / "go"
    wrapper = wrapped_tesseract(
        directory, f"while not pathlib.Path({str(go)!r}).exists():", "    time.sleep(0.05)"
    )
    return (
        wrapper,
        Tesseract(settings.ocr_languages, settings.ocr_timeout_s, str(wrapper.executable)),
        go,
    )
