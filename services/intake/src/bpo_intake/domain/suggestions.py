"""What machine pre-fill suggests for each field, and how sure it is.

A layout's record (`Learned`, kept by `domain.layouts`) says, per field, how often each rule
found the accepted value (hits) or another one (misses), and where on the page; its
confidence is Laplace's rule of succession. A text field (not a number, nor a date) whose
accepted value was the same on the layout's latest documents, CONSTANT_HITS of them or more
(a supplier's VAT id, IBAN or email, not an invoice number that changes on each), is also
suggested as a constant where the page shows it, so that OCR's slip on one character does
not cost it, unless the page prints there another value of a field with a checksum (a
supplier's new IBAN). Either is less sure where OCR doubted the words it was seen in. Before
a layout has a record, a value labelled by one of the field's hints (or its label, or its
name) is suggested at a modest confidence, below the usual threshold.
"""

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from difflib import SequenceMatcher
from typing import Any

from bpo_common.rules import (
    IDENTIFIERS,
    FieldSpec,
    FieldType,
    Kind,
    canonical_form,
    equal_after_normalization,
    rule_kind,
)
from bpo_intake.domain.extraction import (
    RELATIONS,
    Candidate,
    Page,
    Rule,
    candidates,
    extractable,
    label_text,
)
from bpo_intake.domain.words import Box, Word

# Tesseract is 0.9 to 0.97 sure of a clean word: only a word read with less doubt lowers a
# suggestion's confidence.
OCR_SURE = 0.9
# A hint matched without any record of the layout: shown, not trusted.
HINT_CONFIDENCE = 0.6
# The relation of a remembered constant; its rule's label is the value itself.
CONSTANT = "constant"
# A constant is shown where the page holds this share of its characters, in order, near
# where it was printed before.
CONSTANT_MATCH = 0.85
# A value is a constant once accepted on this many of the layout's documents in a row: one
# document's value (its own number, its customer's email) is no constant of the layout.
CONSTANT_HITS = 2
_NEAR_X, _NEAR_Y = 0.2, 0.02
# The types whose values carry a check digit, which a one-character slip nearly always
# breaks; a BIC and a US EIN, checked for their form only, carry none.
_CHECKSUMMED = IDENTIFIERS - {FieldType.BIC, FieldType.US_EIN}


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

    def found_at(self, x: float, y: float) -> None:
        """One more hit, at (x, y)."""
        self.x = (self.x * self.hits + x) / (self.hits + 1)
        self.y = (self.y * self.hits + y) / (self.hits + 1)
        self.hits += 1


# What a layout learned: per field, each rule's record.
Learned = Mapping[str, Mapping[Rule, Record]]


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


def suggest(
    specs: Sequence[FieldSpec], pages: Sequence[Page], learned: Learned
) -> dict[str, Suggestion]:
    """The best suggestion per field: by the layout's record, else by label hints."""
    found: dict[str, Suggestion] = {}
    for spec in specs:
        if not extractable(spec):
            continue
        options = list(candidates(spec, pages))
        record = learned.get(spec.name, {})
        best = _by_record(options, record)
        constant = _by_constant(spec, record, pages, options) if keeps_constant(spec) else None
        if constant is not None and (best is None or constant.confidence > best.confidence):
            best = constant
        best = best or _by_hints(spec, options)
        if best is not None:
            found[spec.name] = best
    return found


def wrong_value(spec: FieldSpec, value: Any) -> Any | None:
    """A plausible value that is not `value` and still passes the field's type (a date a day
    later, or earlier at the end of the calendar, another choice, a digit 0-9 changed), to see
    whether people check a pre-fill before accepting it; None for identifiers, whose checksums
    would give a changed one away. It is in the field's canonical form, as a suggestion is (an
    integer a number, not text)."""
    text = str(value)
    if spec.type is FieldType.DATE:
        day = date.fromisoformat(text)
        return (day - timedelta(days=1) if day == date.max else day + timedelta(days=1)).isoformat()
    if spec.type is FieldType.ENUM and spec.choices:
        return next((choice for choice in spec.choices if choice != text), None)
    if spec.type not in (FieldType.STRING, FieldType.DECIMAL, FieldType.INTEGER):
        return None
    digits = [index for index, ch in enumerate(text) if ch in "0123456789"]
    if not digits:
        return None
    index = digits[-1] if len(digits) == 1 else digits[-2]
    changed = str((int(text[index]) + 1) % 10)
    return canonical_form(spec.reading_canonical(), text[:index] + changed + text[index + 1 :])


def planted(
    specs: Sequence[FieldSpec],
    golden: Mapping[str, Any],
    found: Mapping[str, Suggestion],
    pages: Sequence[Page],
) -> tuple[str, Suggestion] | None:
    """A deliberately wrong suggestion for one field of a control item, to see whether the
    keyer checks what the machine pre-filled, that nothing tells from a real one (a keyer who
    could would check that one only): on a field drawn at random among those with a plausible
    wrong value that the machine suggested, in that suggestion's place, boxes and confidence;
    failing those, on one whose value the pages print, there, as sure as another suggestion
    of the item. None on an item the machine suggested nothing for, where a lone pre-fill
    would stand out."""
    wrong = {
        spec.name: value
        for spec in specs
        if golden.get(spec.name) is not None
        and (value := wrong_value(spec, golden[spec.name])) is not None
    }
    shown = [name for name in wrong if name in found]
    if shown:
        name = secrets.choice(shown)
        return name, replace(found[name], value=wrong[name])
    printed = {
        spec.name: where
        for spec in specs
        if spec.name in wrong and (where := _printed(spec, golden[spec.name], pages)) is not None
    }
    if not found or not printed:
        return None
    name = secrets.choice(sorted(printed))
    confidence = secrets.choice([suggestion.confidence for suggestion in found.values()])
    return name, replace(printed[name], value=wrong[name], confidence=confidence)


def _printed(spec: FieldSpec, value: Any, pages: Sequence[Page]) -> Suggestion | None:
    """The field's value where the pages print it (as its rules normalize it), or None."""
    canonical = spec.reading_canonical()
    for candidate in candidates(spec, pages):
        if equal_after_normalization(canonical, candidate.value, value):
            return _suggestion(candidate, HINT_CONFIDENCE)
    return None


def keeps_constant(spec: FieldSpec) -> bool:
    """Whether a layout remembers the field's value as a constant: a text field's (a VAT id,
    an IBAN, an email), not a number's nor a date's, whose every digit counts (a total of
    1000.00 on the page holds all of a remembered 100.00)."""
    return rule_kind(spec.type) is Kind.TEXT


def constant_rule(value: Any) -> Rule:
    return Rule(str(value), CONSTANT, "")


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


def _by_constant(
    spec: FieldSpec,
    record: Mapping[Rule, Record],
    pages: Sequence[Page],
    options: Sequence[Candidate],
) -> Suggestion | None:
    """The field's remembered constant, where the page shows it (near where it was before)
    and prints no other value of the field there."""
    constants = [
        (rule, r)
        for rule, r in record.items()
        if rule.relation == CONSTANT and r.hits >= CONSTANT_HITS
    ]
    if not constants or not pages:
        return None
    rule, r = max(constants, key=lambda pair: pair[1].confidence())
    page = pages[0]
    if _prints_another(spec, rule.label, r, page, options):
        return None
    # Words with a letter or a digit: a stray mark OCR doubts casts no doubt on the value.
    near = [
        word
        for word in page.words
        if _compact(word.text)
        and _near(((word.box[0] + word.box[2]) / 2, (word.box[1] + word.box[3]) / 2), r)
    ]
    wanted = _compact(rule.label)
    if not near or not wanted:
        return None
    seen = _compact(" ".join(word.text for word in near))
    matcher = SequenceMatcher(None, wanted, seen, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks()) / len(wanted)
    if matched < CONSTANT_MATCH:
        return None
    boxes = [word.box for word in near if _compact(word.text) in wanted]
    # OCR's doubt of the value's own words (those it matched two characters or more of, a
    # slipped one too), not of a label beside it; of every word near when none matched.
    value = _matched(near, matcher) or near
    return Suggestion(
        rule.label, _doubted(r.confidence(), value), page.document_id, page.number, boxes
    )


def _prints_another(
    spec: FieldSpec, constant: str, r: Record, page: Page, options: Sequence[Candidate]
) -> bool:
    """Whether the page prints, where the constant was, a value of the field other than the
    constant and not the constant itself (a supplier's new account). Only a value with a
    checksum counts: a slipped IBAN fails its checksum, so is no candidate, and one that
    passes is the page's word. A slipped email, phone number or BIC still reads as one (an
    email's l read as 1), as any text reads as a string, so for those the constant stays,
    there to put such a slip right."""
    if spec.type not in _CHECKSUMMED:
        return False
    canonical = spec.reading_canonical()
    there = [c.value for c in options if c.page is page and _near(c.center, r)]
    return bool(there) and not any(
        equal_after_normalization(canonical, value, constant) for value in there
    )


def _near(centre: tuple[float, float], r: Record) -> bool:
    """Whether a centre is near a record's place, as a remembered value's words are."""
    return abs(centre[0] - r.x) < _NEAR_X and abs(centre[1] - r.y) < _NEAR_Y


def _matched(words: Sequence[Word], matcher: SequenceMatcher[str]) -> list[Word]:
    """The words the matcher's runs of two characters or more fall in (its second sequence
    being the words' compact characters, one after another)."""
    covered = {
        at
        for block in matcher.get_matching_blocks()
        if block.size > 1
        for at in range(block.b, block.b + block.size)
    }
    found, start = [], 0
    for word in words:
        end = start + len(_compact(word.text))
        if covered.intersection(range(start, end)):
            found.append(word)
        start = end
    return found


def _by_hints(spec: FieldSpec, options: Sequence[Candidate]) -> Suggestion | None:
    """The candidate a hint labels most closely: in its segment, else to its right, else below
    it; two values as close as each other halve the confidence."""
    hints = {label_text(text) for text in _hint_labels(spec)}
    matched = [c for c in options if c.rule.label and c.rule.label in hints]
    if not matched:
        return None
    closest = min(RELATIONS.index(c.rule.relation) for c in matched)
    best = [c for c in matched if RELATIONS.index(c.rule.relation) == closest]
    confidence = HINT_CONFIDENCE if len({c.value for c in best}) == 1 else HINT_CONFIDENCE / 2
    return _suggestion(best[0], confidence)


def _hint_labels(spec: FieldSpec) -> Iterable[str]:
    yield from spec.hints.labels if spec.hints else ()
    if spec.label:
        yield spec.label
    yield spec.name.replace("_", " ")


def _suggestion(candidate: Candidate, confidence: float) -> Suggestion:
    return Suggestion(
        candidate.value,
        _doubted(confidence, candidate.words),
        candidate.page.document_id,
        candidate.page.number,
        [word.box for word in candidate.words],
    )


def _doubted(confidence: float, words: Iterable[Word]) -> float:
    """The confidence less OCR's doubt of the words the value was read from."""
    read = min(word.confidence for word in words)
    return confidence * min(1.0, read / OCR_SURE)


def _compact(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())
