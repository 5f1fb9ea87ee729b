"""A page's segments and what labels each: grouped once however many fields read the page and
learn from it, and found among the segments near a value's line as a search through every
segment of the page finds them (that search, by the definition, is written out here)."""

import random
from collections.abc import Iterator, Sequence
from typing import overload

from bpo_common.rules import FieldSpec
from bpo_intake.domain import layouts, suggestions
from bpo_intake.domain.extraction import ABOVE_LINES, GAP_FACTOR, Page, Segment, label_text
from bpo_intake.domain.words import Box, Word

TEXTS = ["Total:", "Net", "Invoice", "No:", "Date", "IBAN", "EUR", "Widget", "R-1001", "x"]
VALUES = ["12.50", "1.234,56", "03/04/2024", "2024-01-02", "DE89", "3704", "a@b.de", "17", "€5"]
SPECS = [
    FieldSpec(name="number", type="string"),
    FieldSpec(name="total", type="decimal"),
    FieldSpec(name="net", type="decimal", decimal_separator=","),
    FieldSpec(name="day", type="date", date_formats=["%d/%m/%Y", "%Y-%m-%d"]),
    FieldSpec(name="quantity", type="integer"),
    FieldSpec(name="iban", type="iban"),
    FieldSpec(name="email", type="email"),
    FieldSpec(name="currency", type="enum", choices=["EUR", "USD"]),
]


class Counted(Sequence[Word]):
    """A page's words, which count how many times they are gone through."""

    def __init__(self, words: list[Word]) -> None:
        self.words, self.reads = words, 0

    def __iter__(self) -> Iterator[Word]:
        self.reads += 1
        return iter(self.words)

    def __len__(self) -> int:
        return len(self.words)

    @overload
    def __getitem__(self, index: int) -> Word: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Word]: ...
    def __getitem__(self, index: int | slice) -> Word | Sequence[Word]:
        return self.words[index]


def dense(seed: int, count: int) -> list[Word]:
    """A page of many short words, labels and values: a report printed to PDF, lines of
    several heights, some words on a coarse grid (boxes that tie), some of no height."""
    rng = random.Random(seed)
    words = []
    for n in range(count):
        x, y = rng.random() * 0.95, rng.random() * 0.95
        if n % 3 == 0:
            x, y = round(x * 40) / 40, round(y * 60) / 60
        height = rng.choice([0.0, 0.008, 0.012, 0.012, 0.012, 0.03])
        width = rng.choice([0.0, 0.01, 0.03, 0.06])
        words.append(Word(rng.choice(TEXTS + VALUES), (x, y, x + width, y + height)))
    return words


def test_a_pages_words_are_grouped_once_for_every_field_suggested_and_learned() -> None:
    words = Counted(dense(seed=1, count=300))
    pages = [Page("doc", 1, words)]
    found = suggestions.suggest(SPECS, pages, {})
    assert found, "hints label some of its values"
    layouts.learn(layouts.Model(), SPECS, pages, {"total": "12.50", "quantity": 17})
    assert words.reads == 1


def test_segments_and_their_labels_are_those_a_search_through_every_segment_finds() -> None:
    for seed in range(4):
        words = dense(seed, count=500)
        page = Page("doc", 1, words)
        assert [seg.words for seg in page.segments] == grouped(words)
        assert page.labels == [labelled(seg, page.segments) for seg in page.segments]


def grouped(words: list[Word]) -> list[tuple[Word, ...]]:
    """Each word, left to right, joins the first run begun before it whose last word is on
    its line, close to its left."""
    runs: list[list[Word]] = []
    for word in sorted(words, key=lambda word: (word.box[0], word.box[1])):
        run = next((run for run in runs if _joins(run[-1], word)), None)
        if run is None:
            runs.append([word])
        else:
            run.append(word)
    return [tuple(run) for run in runs]


def _joins(last: Word, word: Word) -> bool:
    height = max(last.box[3] - last.box[1], word.box[3] - word.box[1])
    gap = word.box[0] - last.box[2]
    return -height < gap < GAP_FACTOR * height and _overlap_y(last.box, word.box) > 0.5


def labelled(seg: Segment, segs: list[Segment]) -> tuple[str, str]:
    """The label nearest the segment's left (the first such segment of the page), else the
    nearest above it, else none."""
    x0, y0, x1, _ = seg.box
    labels = [s for s in segs if s.labelish]
    left = [
        s for s in labels if s.box[2] <= x0 + seg.height * 0.2 and _overlap_y(s.box, seg.box) > 0.5
    ]
    if left:
        return label_text(max(left, key=lambda s: s.box[2]).text), "left"
    above = [
        s
        for s in labels
        if y0 - ABOVE_LINES * seg.height <= s.box[3] <= y0 + seg.height * 0.2
        and s.box[0] < x1
        and s.box[2] > x0
    ]
    if above:
        return label_text(max(above, key=lambda s: s.box[3]).text), "above"
    return "", "none"


def _overlap_y(a: Box, b: Box) -> float:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap / max(min(a[3] - a[1], b[3] - b[1]), 1e-9)
