"""Layouts: which of a client's known layouts a document is, and what each layout learned
from the documents of it that people keyed.

A layout is recognised by its fixed text: the words of a first page (letters only, three or
more) seen at about the same place on most documents matched to it; a word printed elsewhere
(a product on another line of an invoice) does not count. A document fits a layout when it
prints at least MATCH of the layout's fixed text, and IN_PLACE of it where the layout prints
it (its own words may be many more: an invoice's lines differ from one to the next, and what
is printed under them moves with them). Of the layouts it fits, it matches the one whose
fixed text it shows the most words of in their places, so that a layout of the few words any
invoice prints ("invoice", "total", "date") does not take a supplier's documents from the
supplier's own. A layout of one document holds that page's every word, its lines' and its
customer's with the supplier's, most of which the supplier's next invoice does not print:
failing any layout it fits, a document is of the one-document layout whose words it prints
the most of in their places, YOUNG_SHARED or more (the supplier's header and footer; another
supplier prints the labels any invoice has, and its products, at places of its own).
Otherwise it starts a new layout. A layout of fewer than MIN_FIXED fixed words (started by a
poor scan, a fax cover) tells too little apart: only a document of nearly the same words in
their places is of it. What a layout learned is its `Model`: per field, the record of each
extraction rule and of the value it keeps seeing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bpo_common.rules import FieldSpec, equal_after_normalization
from bpo_intake.domain.extraction import Page, Rule, candidates, extractable, label_text
from bpo_intake.domain.suggestions import CONSTANT, Record, constant_rule, keeps_constant

# A word is fixed text once it was on this share of the layout's documents.
FIXED = 0.8
# A document is of a layout when it prints this share of the layout's fixed text, and the
# second share where the layout prints it.
MATCH = 0.6
IN_PLACE = 0.5
# A layout of fewer fixed words than this is matched only by a document whose words are
# nearly its fixed text: this share of the words either holds are in both.
MIN_FIXED = 10
NEAR_IDENTICAL = 0.9
# A word is where the layout prints it when its centre is within this share of the page's
# width and of its height of the layout's place for it: a scan sits a little off, a line
# further down an invoice's table is elsewhere.
NEAR = 0.05
# A layout of one document takes a document that prints this many of its words in their
# places, however many words of their own either holds: more than two suppliers' invoices
# print at the same places (the client's address in the envelope's window, a table's head),
# fewer than the header and footer of one supplier's.
YOUNG_SHARED = 22
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


# Where a word is printed: its centre, in fractions of the page from its top left.
Place = tuple[float, float]
# A layout as matched: (key, each word's count of documents, each word's place, documents).
Known = tuple[Any, Mapping[str, int], Mapping[str, Sequence[float]], int]


def tokens(pages: Sequence[Page]) -> dict[str, Place]:
    """The words of the first page that could be fixed text (letters only, three or more),
    each where it is first printed from the top."""
    if not pages:
        return {}
    found: dict[str, Place] = {}
    for word in sorted(pages[0].words, key=lambda word: (word.box[1], word.box[0])):
        text = label_text(word.text)
        if len(text) >= 3 and text.isalpha() and text not in found:
            x0, y0, x1, y1 = word.box
            found[text] = ((x0 + x1) / 2, (y0 + y1) / 2)
    return found


def fixed_text(counts: Mapping[str, int], documents: int) -> set[str]:
    return {token for token, seen in counts.items() if seen >= FIXED * documents}


def match(seen: Mapping[str, Place], layouts: Sequence[Known]) -> Any | None:
    """The key of the layout these words fit best, or None: of those they fit, the one whose
    fixed text they show the most words of in their places (then the one they show the
    greater share of); failing any, the layout of one document they show the most words of
    in their places, YOUNG_SHARED or more."""
    best, best_rank = None, (False, 0, 0.0)
    for key, counts, places, documents in layouts:
        fixed = fixed_text(counts, documents)
        shown = {
            token for token in fixed if token in seen and _near(seen[token], places.get(token))
        }
        fit = _fit(seen, fixed, shown)
        # Only words whose place is known tell one supplier's page from another's.
        placed = sum(token in places for token in shown)
        if fit is not None:
            rank = (True, len(shown), fit)
        elif documents == 1 and placed >= YOUNG_SHARED:
            rank = (False, placed, 0.0)
        else:
            continue
        if rank > best_rank:
            best, best_rank = key, rank
    return best


def _near(at: Place, place: Sequence[float] | None) -> bool:
    """Whether a word printed at `at` is where the layout prints it. A word whose place the
    layout does not know (counted by a release before places were kept, on documents since
    gone) is wherever the page prints it, as it was then."""
    if place is None:
        return True
    return abs(at[0] - place[0]) <= NEAR and abs(at[1] - place[1]) <= NEAR


def _fit(seen: Mapping[str, Place], fixed: set[str], shown: set[str]) -> float | None:
    """How well a document's words fit a layout (0 to 1): the share of the layout's fixed
    text it shows in its places, once it prints MATCH of it anywhere; for a small fixed text,
    the share of the words either holds that both hold there. None if the document is not of
    the layout."""
    if not fixed or not seen:
        return None
    if len(fixed) < MIN_FIXED:
        fit = len(shown) / len(fixed | seen.keys())
        return fit if fit >= NEAR_IDENTICAL else None
    fit = len(shown) / len(fixed)
    printed = len(fixed & seen.keys()) / len(fixed)
    return fit if printed >= MATCH and fit >= IN_PLACE else None


def observe(
    counts: Mapping[str, int], places: Mapping[str, Sequence[float]], seen: Mapping[str, Place]
) -> tuple[dict[str, int], dict[str, list[float]]]:
    """The layout's word counts and places with one more document's words. A word the layout
    knows counts once more where the document prints it about where the layout does (its
    place is then the mean of theirs), not where it is printed elsewhere; a word it did not
    know, or knew without a place, counts where the document prints it."""
    counted = dict(counts)
    placed = {token: list(place) for token, place in places.items()}
    for token, (x, y) in seen.items():
        known, place = counted.get(token, 0), placed.get(token)
        if place is None or not known:
            counted[token], placed[token] = known + 1, [round(x, 4), round(y, 4)]
        elif _near((x, y), place):
            mean = [(place[0] * known + x) / (known + 1), (place[1] * known + y) / (known + 1)]
            counted[token], placed[token] = known + 1, [round(v, 4) for v in mean]
    ranked = sorted(counted.items(), key=lambda pair: -pair[1])[:MAX_TOKENS]
    return dict(ranked), {token: placed[token] for token, _ in ranked if token in placed}


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
