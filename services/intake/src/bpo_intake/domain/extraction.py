"""Reading a document's words: candidates for each field, placed by what labels them.

A page's words are grouped into segments (words close together on one line). A candidate is
a run of words that reads as a value of the field's type, with what labels it: the words
before it in its segment (`inline`), the segment to its left (`left`) or the one above it
(`above`), or nothing (`none`). A page's segments, and what labels each, are found once
however many fields and readings look at them, each label among the segments near its line
(a dense page, a report printed to PDF, holds thousands). A `Rule` is (label, relation,
reading): the reading is the decimal separator or the date format that read the value, since
`03/04/2024` and `1.234` mean different things on different layouts; a layout is the client's
across jobs, each of which may list its formats in another order. `domain.layouts` learns
which rules find a layout's values; `domain.suggestions` picks the value to suggest. CPU work
on words in memory: no I/O.
"""

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bpo_common.rules import FieldSpec, FieldType
from bpo_common.rules.types import InvalidValue, normalize_value
from bpo_intake.domain.words import Box, Word

# A value is at most this many words (an IBAN printed in groups of four is six).
MAX_VALUE_WORDS = 7
# Words further apart than this many times the line's height start a new segment.
GAP_FACTOR = 2.5
# A label above its value is at most this many line heights higher.
ABOVE_LINES = 3.5
# How a label sits to its value, closest first.
RELATIONS = ("inline", "left", "above", "none")
# A margin far below any box's precision, for bounds computed otherwise than what they bound.
_HAIR = 1e-9
_LABEL_CHARS = re.compile(r"[^\w%#/.-]+")
_CURRENCY = re.compile(r"^([€$£]|EUR|USD|GBP|CHF)|([€$£]|EUR|USD|GBP|CHF)$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    document_id: str
    number: int
    words: Sequence[Word]

    @cached_property
    def segments(self) -> list["Segment"]:
        """The page's words grouped into segments: neighbours on one line, close together."""
        return [Segment(self, tuple(run)) for run in _runs(self.words)]

    @cached_property
    def labels(self) -> list[tuple[str, str]]:
        """What labels a value that starts each segment, and how it sits: the nearest segment
        to its left, else the nearest one above it, else none."""
        return _Labels(self.segments).of_each()


@dataclass(frozen=True)
class Segment:
    page: Page
    words: tuple[Word, ...]

    @cached_property
    def box(self) -> Box:
        return _union(word.box for word in self.words)

    @cached_property
    def height(self) -> float:
        return max(word.box[3] - word.box[1] for word in self.words)

    @cached_property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @cached_property
    def labelish(self) -> bool:
        """Whether it reads as a label: letters, more of them than digits."""
        letters = sum(ch.isalpha() for ch in self.text)
        return letters >= 2 and letters >= sum(ch.isdigit() for ch in self.text)


@dataclass(frozen=True)
class Rule:
    label: str
    relation: str
    # The date format or the decimal separator; "" for a field read one way only.
    reading: str


@dataclass(frozen=True)
class Candidate:
    field: str
    value: Any
    rule: Rule
    page: Page
    words: tuple[Word, ...]

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = _union(word.box for word in self.words)
        return ((x0 + x1) / 2, (y0 + y1) / 2)


def extractable(spec: FieldSpec) -> bool:
    """Whether pre-fill reads the field off a page: not a yes/no, which no printed word says,
    nor a table, whose rows people key."""
    return spec.type not in (FieldType.BOOLEAN, FieldType.TABLE)


def readings(spec: FieldSpec) -> list[tuple[str, FieldSpec]]:
    """The ways a printed value of this field may be read, each with what names it: each date
    format on its own, both decimal separators, else the spec itself ("")."""
    if spec.type is FieldType.DATE and spec.date_formats:
        return [(fmt, _replace_spec(spec, date_formats=(fmt,))) for fmt in spec.date_formats]
    if spec.type in (FieldType.DECIMAL, FieldType.INTEGER):
        first = spec.decimal_separator or "."
        other = "," if first == "." else "."
        return [(sep, _replace_spec(spec, decimal_separator=sep)) for sep in (first, other)]
    return [("", spec)]


def _replace_spec(spec: FieldSpec, **changes: Any) -> FieldSpec:
    return spec.model_copy(update={**changes, "required": True})


def _runs(words: Iterable[Word]) -> list[list[Word]]:
    """Words grouped left to right: each joins the first run begun before it whose last word
    is on its line, close to its left. A run whose last word ends further left of a word than
    GAP_FACTOR times the tallest word's height takes none of the words after it (they start
    further right still), and is no longer looked at."""
    ordered = sorted(words, key=lambda word: (word.box[0], word.box[1]))
    tallest = max((word.box[3] - word.box[1] for word in ordered), default=0.0)
    runs: list[list[Word]] = []
    open_: list[list[Word]] = []
    for word in ordered:
        # Less a hair: a gap computed otherwise may round the other way.
        reach = word.box[0] - GAP_FACTOR * tallest - _HAIR
        open_ = [run for run in open_ if run[-1].box[2] >= reach]
        for run in open_:
            last = run[-1]
            height = max(last.box[3] - last.box[1], word.box[3] - word.box[1])
            gap = word.box[0] - last.box[2]
            if -height < gap < GAP_FACTOR * height and _overlap_y(last.box, word.box) > 0.5:
                run.append(word)
                break
        else:
            runs.append([word])
            open_.append(runs[-1])
    return runs


def candidates(spec: FieldSpec, pages: Sequence[Page]) -> Iterator[Candidate]:
    """Every run of words on the pages that reads as a value of the field, with its label."""
    ways = readings(spec)
    for page in pages:
        for seg, outside in zip(page.segments, page.labels, strict=True):
            starts = [0] + [i for i in range(1, len(seg.words)) if _may_start_value(spec, seg, i)]
            for start in starts:
                label, relation = _inline(seg, start) if start else outside
                for reading, way in ways:
                    found = _read(way, seg.words[start:])
                    if found is not None:
                        value, words = found
                        rule = Rule(label, relation, reading)
                        yield Candidate(spec.name, value, rule, page, words)


def _read(spec: FieldSpec, words: Sequence[Word]) -> tuple[Any, tuple[Word, ...]] | None:
    """The longest run from the first word that reads as a value of the field (a string is
    the whole rest of the segment), and its words."""
    if spec.type is FieldType.STRING:
        run = tuple(words[:MAX_VALUE_WORDS])
        # A full stop or comma after a value ends the sentence, not the value.
        text = " ".join(word.text for word in run).rstrip(".,;:")
        return (text, run) if any(ch.isalnum() for ch in text) else None
    longest = MAX_VALUE_WORDS
    if spec.type is FieldType.ENUM and spec.choices:
        longest = max(len(choice.split()) for choice in spec.choices)
    for end in range(min(len(words), longest), 0, -1):
        parts = [word.text for word in words[:end]]
        if spec.type in (FieldType.DECIMAL, FieldType.INTEGER):
            # A currency printed on an amount ("$1,234.56", "1.234,56€") is no part of it.
            parts = [_CURRENCY.sub("", part) for part in parts]
        text = " ".join(part for part in parts if part).strip(":;")
        if not text or not any(ch.isalnum() for ch in text):
            continue
        try:
            value = normalize_value(spec, text)
        except (InvalidValue, ValueError):
            continue
        if value is not None:
            return value, tuple(words[:end])
    return None


def _may_start_value(spec: FieldSpec, seg: Segment, index: int) -> bool:
    """Whether a value may start at this word: any word for a choice (a currency after an
    amount); else after a word ending in a colon, at the first word with a digit or an @
    after words without, or at a country code printed apart from its digits (`XI 349 1725`)."""
    before, word = seg.words[index - 1].text, seg.words[index].text
    if spec.type is FieldType.ENUM or before.endswith(":"):
        return True
    if any(ch.isdigit() or ch in "@+€$£" for ch in word):
        return not any(ch.isdigit() for ch in before)
    after = seg.words[index + 1].text if index + 1 < len(seg.words) else ""
    return len(word) == 2 and word.isupper() and after[:1].isdigit()


def _inline(seg: Segment, start: int) -> tuple[str, str]:
    """The label of a value that starts inside a segment: the words before it."""
    return label_text(" ".join(w.text for w in seg.words[:start])), "inline"


class _Labels:
    """The segments of a page that read as labels, sorted by their top and by their bottom, to
    look up those beside or above a value among the few near its line, not among all."""

    def __init__(self, segs: Sequence[Segment]) -> None:
        self.segs = segs
        labels = [index for index, seg in enumerate(segs) if seg.labelish]
        self.by_top = sorted(labels, key=lambda index: segs[index].box[1])
        self.tops = [segs[index].box[1] for index in self.by_top]
        self.by_bottom = sorted(labels, key=lambda index: segs[index].box[3])
        self.bottoms = [segs[index].box[3] for index in self.by_bottom]
        self.tallest = max((segs[i].box[3] - segs[i].box[1] for i in labels), default=0.0)

    def of_each(self) -> list[tuple[str, str]]:
        return [self._of(seg) for seg in self.segs]

    def _of(self, seg: Segment) -> tuple[str, str]:
        """The nearest label to the segment's left, else the nearest above it, else none; of
        two as near, the one the page's segments list first."""
        x0, y0, x1, y1 = seg.box
        height = seg.height
        # A label on its line ends below the segment's top: it starts below that less its height.
        line = self.by_top[
            bisect_left(self.tops, y0 - self.tallest - _HAIR) : bisect_right(self.tops, y1)
        ]
        left = [
            index
            for index in line
            if self.segs[index].box[2] <= x0 + height * 0.2
            and _overlap_y(self.segs[index].box, seg.box) > 0.5
        ]
        if left:
            nearest = max(left, key=lambda index: (self.segs[index].box[2], -index))
            return label_text(self.segs[nearest].text), "left"
        lowest, highest = y0 - ABOVE_LINES * height, y0 + height * 0.2
        band = self.by_bottom[
            bisect_left(self.bottoms, lowest) : bisect_right(self.bottoms, highest)
        ]
        above = [
            index for index in band if self.segs[index].box[0] < x1 and self.segs[index].box[2] > x0
        ]
        if above:
            nearest = max(above, key=lambda index: (self.segs[index].box[3], -index))
            return label_text(self.segs[nearest].text), "above"
        return "", "none"


def label_text(text: str) -> str:
    """A label as compared: case folded, punctuation and words with digits gone (what varies
    from one document to the next labels nothing), spaces collapsed."""
    folded = unicodedata.normalize("NFC", text).casefold()
    words = _LABEL_CHARS.sub(" ", folded).split()
    return " ".join(w for w in words if not any(ch.isdigit() for ch in w)).strip(".-/")


def _overlap_y(a: Box, b: Box) -> float:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap / max(min(a[3] - a[1], b[3] - b[1]), 1e-9)


def _union(boxes: Iterable[Box]) -> Box:
    x0, y0, x1, y1 = zip(*boxes, strict=True)
    return (min(x0), min(y0), max(x1), max(y1))
