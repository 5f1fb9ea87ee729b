"""A job's instructions as HTML: images from elsewhere as links, and the work it takes."""

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from bpo_intake.domain import instructions
from bpo_intake.domain.instructions import as_html


def _lines_run(markdown: str) -> int:
    """How many lines of the instructions module rendering the Markdown runs: the work it does
    itself, counted rather than timed so that a busy host cannot make the test fail."""
    here = instructions.__file__
    run = 0

    def line(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        nonlocal run
        if event == "line":
            run += 1
        return line

    def call(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        return line if frame.f_code.co_filename == here else None

    before = sys.gettrace()
    sys.settrace(call)
    try:
        as_html(markdown)
    finally:
        sys.settrace(before)
    return run


def test_rendering_many_images_takes_work_in_proportion_to_them() -> None:
    some, twice_as_many = _lines_run("![](b)\n" * 500), _lines_run("![](b)\n" * 1000)
    assert some > 500
    assert twice_as_many <= 2 * some + 50


def test_an_image_inside_a_link_is_its_text_and_one_after_it_a_link_of_its_own() -> None:
    assert as_html("[![a](x)](y) ![b](z)") == (
        '<p><a href="y" target="_blank" rel="noopener noreferrer">a (image)</a> '
        '<a href="z" target="_blank" rel="noopener noreferrer">b (image)</a></p>\n'
    )
