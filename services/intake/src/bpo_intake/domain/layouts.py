"""Layouts: which of a client's known layouts a document is, and what each layout learned
from the documents of it that people keyed.

A layout is recognised by its fixed text: the words of a first page (letters only, three or
more) seen on most documents matched to it. A document fits a layout when it shows at least
MATCH of the layout's fixed text (its own words may be many more: an invoice's lines differ
from one to the next). Of the layouts it fits, it matches the one whose fixed text it shows
the most words of, so that a layout of the few words any invoice prints ("invoice", "total",
"date") does not take a supplier's documents from the supplier's own; otherwise it starts a
new layout. A layout of fewer than MIN_FIXED fixed words (started by a poor scan, a fax
cover) tells too little apart: only a document of nearly the same words is of it. What a
layout learned is its `Model`: per field, the record of each extraction rule and of the value
it keeps seeing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bpo_common.rules import FieldSpec, equal_after_normalization
from bpo_intake.domain.extraction import Page, Rule, candidates, extractable, label_text
from bpo_intake.domain.suggestions import CONSTANT, Record, constant_rule, keeps_constant

# A word is fixed text once it was on this share of the layout's documents.
FIXED = 0.8
# A document is of a layout when it holds this share of the layout's fixed text.
MATCH = 0.6
# A layout of fewer fixed words than this is matched only by a document whose words are
# nearly its fixed text: this share of the words either holds are in both.
MIN_FIXED = 10
NEAR_IDENTICAL = 0.9
# Words kept per layout: the most frequent.
MAX_TOKENS = 400
# Rules kept per field and layout: the best by hits less misses.
MAX_RULES = 8


@dataclass
class Model:
    """A layout's record per field: {field: {rule: record}}."""

    fields: dict[str, dict[Rule, Record]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            name: [
                [rule.label, rule.relation, rule.reading, r.hits, r.misses, r.x, r.y]
                for rule, r in rules.items()
            ]
            for name, rules in self.fields.items()
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "Model":
        fields: dict[str, dict[Rule, Record]] = {}
        for name, rows in (data or {}).items():
            # A reading kept as its place in a job's list (by a release before readings were
            # kept by value, still running while intake_0032 turned the others) says nothing
            # in another job: that rule is learned again.
            fields[name] = {
                Rule(label, relation, reading): Record(hits, misses, x, y)
                for label, relation, reading, hits, misses, x, y in rows
                if isinstance(reading, str)
            }
        return cls(fields)


def tokens(pages: Sequence[Page]) -> set[str]:
    """The words of the first page that could be fixed text: letters only, three or more."""
    if not pages:
        return set()
    return {
        text
        for word in pages[0].words
        if len(text := label_text(word.text)) >= 3 and text.isalpha()
    }


def fixed_text(counts: Mapping[str, int], documents: int) -> set[str]:
    return {token for token, seen in counts.items() if seen >= FIXED * documents}


def match(seen: set[str], layouts: Sequence[tuple[Any, Mapping[str, int], int]]) -> Any | None:
    """The key of the layout (key, token counts, documents) these words fit best, or None:
    of those they fit, the one whose fixed text they show the most words of (then the one
    they show the greater share of)."""
    best, best_rank = None, (0, 0.0)
    for key, counts, documents in layouts:
        fixed = fixed_text(counts, documents)
        fit = _fit(seen, fixed)
        rank = (len(fixed & seen), fit or 0.0)
        if fit is not None and rank > best_rank:
            best, best_rank = key, rank
    return best


def _fit(seen: set[str], fixed: set[str]) -> float | None:
    """How well a document's words fit a layout (0 to 1): the share of the layout's fixed
    text it shows; for a small fixed text, the share of the words either holds that both
    hold. None if the document is not of the layout."""
    if not fixed or not seen:
        return None
    shown = len(fixed & seen)
    if len(fixed) < MIN_FIXED:
        fit = shown / len(fixed | seen)
        return fit if fit >= NEAR_IDENTICAL else None
    fit = shown / len(fixed)
    return fit if fit >= MATCH else None


def observe(counts: Mapping[str, int], seen: set[str]) -> dict[str, int]:
    """The layout's word counts with one more document's words."""
    updated = dict(counts)
    for token in seen:
        updated[token] = updated.get(token, 0) + 1
    ranked = sorted(updated.items(), key=lambda pair: -pair[1])
    return dict(ranked[:MAX_TOKENS])


def learn(
    model: Model, specs: Sequence[FieldSpec], pages: Sequence[Page], accepted: Mapping[str, Any]
) -> Model:
    """The model after a document of its layout was keyed and accepted with these values:
    every rule that finds the accepted value (as the field's rules normalize it: a string
    printed "Brandt GmbH" is "BRANDT GMBH" in an upper-case field) scores a hit there, every
    known rule that finds another value a miss; a text field's value found on the page is
    remembered as its constant, one more hit if it was the last document's value too."""
    for spec in specs:
        value = accepted.get(spec.name)
        if value is None or not extractable(spec):
            continue
        # What is read is canonical (a string aside, read as printed), as is the accepted value:
        # a ',' field would read the canonical "1.759" as 1759.
        canonical = spec.reading_canonical()
        record = model.fields.setdefault(spec.name, {})
        outcome: dict[Rule, tuple[bool, tuple[float, float]]] = {}
        for candidate in candidates(spec, pages):
            right = equal_after_normalization(canonical, candidate.value, value)
            if candidate.rule in outcome and outcome[candidate.rule][0]:
                continue
            if right or candidate.rule in record:
                outcome[candidate.rule] = (right, candidate.center)
        for rule, (right, (x, y)) in outcome.items():
            r = record.setdefault(rule, Record())
            if right:
                r.found_at(x, y)
            else:
                r.misses += 1
        found = [centre for right, centre in outcome.values() if right]
        _remember(record, value if keeps_constant(spec) else None, found[0] if found else None)
        kept = sorted(record.items(), key=lambda item: item[1].misses - item[1].hits)
        model.fields[spec.name] = dict(kept[:MAX_RULES])
    return model


def _remember(
    record: dict[Rule, Record], value: str | None, at: tuple[float, float] | None
) -> None:
    """The field's constant: this value once more in a row where it was found on the page (at
    `at`); another value ends the run of the one before, as does None (a field whose values
    are not remembered)."""
    rule = None if value is None else constant_rule(value)
    for other in [r for r in record if r.relation == CONSTANT and r != rule]:
        del record[other]
    if rule is not None and at is not None:
        record.setdefault(rule, Record()).found_at(*at)
