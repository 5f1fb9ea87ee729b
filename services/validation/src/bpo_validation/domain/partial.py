"""Partial second keyings: which fields of a keyer's item a second keying covers alone.

Where a keyer is weak on some fields only, keying those again buys most of what keying the
whole item again would (domain.accuracy counts the item as keyed twice on them and once on
the rest). A keyer weak overall keys the whole item again: a partial second keying is for a
keyer as good as the crew elsewhere.
"""

from typing import Protocol

from bpo_validation.domain.fields import field_of

# How much weaker than the crew a keyer is on a field that alone is keyed again, and how close
# to the crew on the rest.
WEAK_FACTOR = 2.0
REST_FACTOR = 1.25


class FieldErrors(Protocol):
    """A keyer's chances of an error by judged field, and the crew's (domain.accuracy.Trust)."""

    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def errors(self) -> tuple[tuple[float, float], ...]: ...
    @property
    def crew_errors(self) -> tuple[float, ...]: ...


def weak_fields(single: FieldErrors) -> tuple[str, ...]:
    """The fields a partial second keying covers: those the keyer is weak on, their posterior
    chance of an error on it over WEAK_FACTOR (2) times the crew's (a table when so on any of
    its columns: the table is keyed again whole). None (the whole item is keyed again) when
    there is none, or the keyer is weak overall: weak on more than half of the item's fields,
    or on the others their chances of an error, added up, over REST_FACTOR (1.25) times the
    crew's. The crew's chance is the keyer's prior (a newcomer's), measured as theirs is: a
    keyer as good as the crew is not weak for want of errors to learn from."""
    if not single.names:
        return ()
    by_field: dict[str, list[tuple[float, float]]] = {}
    pairs = zip(single.names, single.errors, single.crew_errors, strict=True)
    for name, (mine, _), theirs in pairs:
        by_field.setdefault(field_of(name), []).append((mine, theirs))
    weak = [
        name
        for name, errors in by_field.items()
        if any(mine > WEAK_FACTOR * theirs for mine, theirs in errors)
    ]
    rest = [pair for name, errors in by_field.items() if name not in weak for pair in errors]
    if not weak or 2 * len(weak) > len(by_field):
        return ()
    if sum(mine for mine, _ in rest) > REST_FACTOR * sum(theirs for _, theirs in rest):
        return ()
    return tuple(weak)
