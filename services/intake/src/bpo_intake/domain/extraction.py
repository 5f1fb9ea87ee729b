"""Machine pre-fill: candidates for each field among a document's words, placed by labels, and
a per-layout model of where accepted values were found.

A page's words are grouped into segments (words close together on one line). A candidate is
a run of words that reads as a value of the field's type, with what labels it: the words
before it in its segment (`inline`), the segment to its left (`left`) or the one above it
(`above`), or nothing (`none`). A `Rule` is (label, relation, reading): the reading says which
decimal separator or date format read the value, since `03/04/2024` and `1.234` mean
different things on different layouts. A layout keeps (`domain.layouts`), per field, how often each
rule found the accepted value (hits) or another one (misses), and where on the page.

Suggestions come from learned rules (confidence from their record) and, before a layout has
a record, from the field's label hints (a modest confidence, below the usual threshold).
Everything here is CPU work on words in memory: no I/O.
"""

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bpo_common.rules import FieldSpec, FieldType
from bpo_common.rules.types import InvalidValue, normalize_value
from bpo_intake.domain.documents import Box, Word

# A value is at most this many words (an IBAN printed in groups of four is six).
MAX_VALUE_WORDS = 7
# Words further apart than this many times the line's height start a new segment.
GAP_FACTOR = 1.6
# A label above its value is at most this many line heights higher.
ABOVE_LINES = 3.5
# Tesseract is 0.9 to 0.97 sure of a clean word: only a word read with less doubt lowers a
# suggestion's confidence.
OCR_SURE = 0.9
# A hint matched without any record of the layout: shown, not trusted.
HINT_CONFIDENCE = 0.6
# How a label sits to its value, closest first.
_RELATIONS = ("inline", "left", "above", "none")
# Rules kept per field and layout.
MAX_RULES = 8
_LABEL_CHARS = re.compile(r"[^\w%#/.-]+")
_CURRENCY = re.compile(r"^[€$£]|[€$£]$|^(EUR|USD|GBP|CHF)$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    document_id: str
    number: int
    words: Sequence[Word]


@dataclass(frozen=True)
class Segment:
    page: Page
    words: tuple[Word, ...]

    @property
    def box(self) -> Box:
        return _union(word.box for word in self.words)

    @property
    def height(self) -> float:
        return max(word.box[3] - word.box[1] for word in self.words)


@dataclass(frozen=True)
class Rule:
    label: str
    relation: str
    reading: int


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


@dataclass(frozen=True)
class Suggestion:
    value: Any
    confidence: float
    document_id: str
    page: int
    boxes: list[Box]

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "confidence": round(self.confidence, 3),
            "document_id": self.document_id,
            "page": self.page,
            "boxes": [list(box) for box in self.boxes],
        }


@dataclass
class Record:
    """What one rule did on a layout: accepted values found, other values found, and the
    mean centre of the values it found."""

    hits: int = 0
    misses: int = 0
    x: float = 0.0
    y: float = 0.0

    def confidence(self) -> float:
        # Laplace's rule of succession: 3 hits and no miss give 0.8, 9 give 0.91.
        return (self.hits + 1) / (self.hits + self.misses + 2)


def readings(spec: FieldSpec) -> list[FieldSpec]:
    """The ways a printed value of this field may be read: each date format on its own, both
    decimal separators, else the spec itself."""
    if spec.type is FieldType.DATE and spec.date_formats:
        return [replace_spec(spec, date_formats=(fmt,)) for fmt in spec.date_formats]
    if spec.type in (FieldType.DECIMAL, FieldType.INTEGER):
        first = spec.decimal_separator or "."
        other = "," if first == "." else "."
        return [replace_spec(spec, decimal_separator=sep) for sep in (first, other)]
    return [spec]


def replace_spec(spec: FieldSpec, **changes: Any) -> FieldSpec:
    return spec.model_copy(update={**changes, "required": True})


def segments(page: Page) -> list[Segment]:
    """The page's words grouped into segments: neighbours on one line, close together."""
    words = sorted(page.words, key=lambda word: (word.box[0], word.box[1]))
    open_: list[list[Word]] = []
    for word in words:
        for run in open_:
            last = run[-1]
            height = max(last.box[3] - last.box[1], word.box[3] - word.box[1])
            gap = word.box[0] - last.box[2]
            if -height < gap < GAP_FACTOR * height and _overlap_y(last.box, word.box) > 0.5:
                run.append(word)
                break
        else:
            open_.append([word])
    return [Segment(page, tuple(run)) for run in open_]


def candidates(spec: FieldSpec, pages: Sequence[Page]) -> Iterator[Candidate]:
    """Every run of words on the pages that reads as a value of the field, with its label."""
    ways = readings(spec)
    for page in pages:
        segs = segments(page)
        for index, seg in enumerate(segs):
            starts = [0] + [i for i in range(1, len(seg.words)) if _may_start_value(seg, i)]
            for start in starts:
                label, relation = _label_of(seg, start, segs, index)
                for reading, way in enumerate(ways):
                    found = _read(way, seg.words[start:])
                    if found is not None:
                        value, words = found
                        rule = Rule(label, relation, reading)
                        yield Candidate(spec.name, value, rule, page, words)


# What a layout learned: per field, each rule's record.
Learned = Mapping[str, Mapping[Rule, Record]]


def suggest(
    specs: Sequence[FieldSpec], pages: Sequence[Page], learned: Learned
) -> dict[str, Suggestion]:
    """The best candidate per field: by the layout's learned rules, else by label hints."""
    found: dict[str, Suggestion] = {}
    for spec in specs:
        if spec.type is FieldType.BOOLEAN:
            continue
        options = list(candidates(spec, pages))
        best = _by_record(options, learned.get(spec.name, {})) or _by_hints(spec, options)
        if best is not None:
            found[spec.name] = best
    return found


def wrong_value(spec: FieldSpec, value: Any) -> Any | None:
    """A plausible value that is not `value` and still passes the field's type (a date a day
    later, another choice, a digit changed), to see whether people check a pre-fill before
    accepting it; None for identifiers, whose checksums would give a changed one away."""
    text = str(value)
    if spec.type is FieldType.DATE:
        return (date.fromisoformat(text) + timedelta(days=1)).isoformat()
    if spec.type is FieldType.ENUM and spec.choices:
        return next((choice for choice in spec.choices if choice != text), None)
    if spec.type not in (FieldType.STRING, FieldType.DECIMAL, FieldType.INTEGER):
        return None
    digits = [index for index, ch in enumerate(text) if ch.isdigit()]
    if not digits:
        return None
    index = digits[-1] if len(digits) == 1 else digits[-2]
    changed = str((int(text[index]) + 1) % 10)
    return text[:index] + changed + text[index + 1 :]


def _by_record(options: Sequence[Candidate], record: Mapping[Rule, Record]) -> Suggestion | None:
    scored: list[tuple[float, Candidate]] = []
    for candidate in options:
        r = record.get(candidate.rule)
        if r is None or r.hits == 0:
            continue
        distance = abs(candidate.center[0] - r.x) + abs(candidate.center[1] - r.y)
        scored.append((r.confidence() - distance, candidate))
    if not scored:
        return None
    scored.sort(key=lambda pair: -pair[0])
    score, best = scored[0]
    confidence = record[best.rule].confidence()
    # Another trusted rule reading another value here: the layout is not what it learned.
    rivals = {c.value for s, c in scored if c.value != best.value and s > score - 0.2}
    if rivals:
        confidence /= 2
    return _suggestion(best, confidence)


def _by_hints(spec: FieldSpec, options: Sequence[Candidate]) -> Suggestion | None:
    """The candidate a hint labels most closely: in its segment, else to its right, else below
    it; two values as close as each other halve the confidence."""
    hints = {label_text(text) for text in _hint_labels(spec)}
    matched = [c for c in options if c.rule.label and c.rule.label in hints]
    if not matched:
        return None
    closest = min(_RELATIONS.index(c.rule.relation) for c in matched)
    best = [c for c in matched if _RELATIONS.index(c.rule.relation) == closest]
    confidence = HINT_CONFIDENCE if len({c.value for c in best}) == 1 else HINT_CONFIDENCE / 2
    return _suggestion(best[0], confidence)


def _hint_labels(spec: FieldSpec) -> Iterable[str]:
    yield from spec.hints.labels if spec.hints else ()
    if spec.label:
        yield spec.label
    yield spec.name.replace("_", " ")


def _suggestion(candidate: Candidate, confidence: float) -> Suggestion:
    read = min(word.confidence for word in candidate.words)
    return Suggestion(
        candidate.value,
        confidence * min(1.0, read / OCR_SURE),
        candidate.page.document_id,
        candidate.page.number,
        [word.box for word in candidate.words],
    )


def _read(spec: FieldSpec, words: Sequence[Word]) -> tuple[Any, tuple[Word, ...]] | None:
    """The longest run from the first word that reads as a value of the field (a string is
    the whole rest of the segment), and its words."""
    if spec.type is FieldType.STRING:
        run = tuple(words[:MAX_VALUE_WORDS])
        text = " ".join(word.text for word in run)
        return (text, run) if any(ch.isalnum() for ch in text) else None
    for end in range(min(len(words), MAX_VALUE_WORDS), 0, -1):
        parts = [word.text for word in words[:end]]
        if spec.type in (FieldType.DECIMAL, FieldType.INTEGER):
            parts = [part for part in parts if not _CURRENCY.search(part)] or parts
        text = " ".join(parts).strip(":;")
        if not text or not any(ch.isalnum() for ch in text):
            continue
        try:
            value = normalize_value(spec, text)
        except (InvalidValue, ValueError):
            continue
        if value is not None:
            return value, tuple(words[:end])
    return None


def _may_start_value(seg: Segment, index: int) -> bool:
    """Whether a value may start at this word: after a word ending in a colon, or at the first
    word with a digit or an @ after words without."""
    before, word = seg.words[index - 1].text, seg.words[index].text
    if before.endswith(":"):
        return True
    has_digit = any(ch.isdigit() or ch in "@+€$£" for ch in word)
    return has_digit and not any(ch.isdigit() for ch in before)


def _label_of(seg: Segment, start: int, segs: Sequence[Segment], index: int) -> tuple[str, str]:
    """The value's label and how it sits: the words before it in its segment, else the
    nearest segment to its left, else the nearest one above it, else none."""
    if start > 0:
        return label_text(" ".join(w.text for w in seg.words[:start])), "inline"
    x0, y0, x1, _ = seg.box
    height = seg.height
    left = [
        s
        for s in segs
        if s.box[2] <= x0 + height * 0.2 and _overlap_y(s.box, seg.box) > 0.5 and _labelish(s)
    ]
    if left:
        nearest = max(left, key=lambda s: s.box[2])
        return label_text(_text(nearest)), "left"
    above = [
        s
        for s in segs
        if y0 - ABOVE_LINES * height <= s.box[3] <= y0 + height * 0.2
        and s.box[0] < x1
        and s.box[2] > x0
        and _labelish(s)
    ]
    if above:
        nearest = max(above, key=lambda s: s.box[3])
        return label_text(_text(nearest)), "above"
    return "", "none"


def _labelish(seg: Segment) -> bool:
    text = _text(seg)
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 2 and letters >= sum(ch.isdigit() for ch in text)


def _text(seg: Segment) -> str:
    return " ".join(word.text for word in seg.words)


def label_text(text: str) -> str:
    """A label as compared: case folded, punctuation gone, spaces collapsed."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return " ".join(_LABEL_CHARS.sub(" ", folded).split()).strip(".-/")


def _overlap_y(a: Box, b: Box) -> float:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap / max(min(a[3] - a[1], b[3] - b[1]), 1e-9)


def _union(boxes: Iterable[Box]) -> Box:
    x0, y0, x1, y1 = zip(*boxes, strict=True)
    return (min(x0), min(y0), max(x1), max(y1))
