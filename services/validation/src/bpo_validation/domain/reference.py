"""Matching an entry against a client's reference data: the key a lookup finds a row by, and
what in the entry disagrees with the row it found."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bpo_common.rules import (
    FieldSpec,
    InvalidValue,
    JobSpec,
    equal_after_normalization,
    parse_value,
)

# (dataset name, match key): what one lookup asks the client's reference data.
Wanted = tuple[str, str]


@dataclass(frozen=True)
class LookupResult:
    """What one lookup found: whether the client has the dataset, and the row with the key."""

    dataset_exists: bool
    row: Mapping[str, Any] | None = None


def reference_key(value: object) -> str:
    """How keys of reference data match: trimmed, spaces collapsed, case ignored."""
    return " ".join(str(value).split()).casefold()


def _looked_up(spec: JobSpec, result: Mapping[str, Any]) -> Iterator[tuple[FieldSpec, Any, Wanted]]:
    """Each lookup field the result has a value for, that value, and what it looks up."""
    for field in spec.fields:
        value = result.get(field.name)
        if field.lookup is not None and value is not None:
            yield field, value, (field.lookup.dataset, reference_key(value))


def lookups_of(spec: JobSpec, result: Mapping[str, Any]) -> list[Wanted]:
    """What checking `result` against the reference data looks up."""
    return [wanted for _, _, wanted in _looked_up(spec, result)]


def reference_problems(
    spec: JobSpec, result: Mapping[str, Any], found: Mapping[Wanted, LookupResult]
) -> list[str]:
    """What in a result disagrees with the client's reference data (empty: all agrees), given
    what each of its lookups (`lookups_of`) found."""
    problems: list[str] = []
    for field, value, wanted in _looked_up(spec, result):
        dataset, lookup = wanted[0], found[wanted]
        if not lookup.dataset_exists:
            problems.append(f"there is no reference dataset {dataset} to find {field.name} in")
        elif lookup.row is None:
            problems.append(f"{_quoted(spec, field.name, value)} is not in {dataset}")
        else:
            problems += _mismatches(spec, field, result, lookup.row)
    return problems


def _mismatches(
    spec: JobSpec, field: FieldSpec, result: Mapping[str, Any], row: Mapping[str, Any]
) -> list[str]:
    """What in an entry disagrees with the reference row its `field` found (empty: all match).

    The row's values are read as the entry's fields are, so "1,000.50" matches 1000.5.
    """
    assert field.lookup is not None
    problems = []
    for cross in field.lookup.checks:
        mine, theirs = result.get(cross.field), row.get(cross.column)
        target = spec.field(cross.field)
        if cross.column not in row:
            problems.append(f"{field.lookup.dataset} has no column {cross.column}")
        elif cross.tolerance is not None:
            gap = _difference(target, mine, theirs)
            if gap is None or gap > cross.tolerance:
                problems.append(
                    f"{_quoted(spec, cross.field, mine)} differs from "
                    f"{_quoted(spec, cross.field, theirs, cross.column)} by more than "
                    f"{cross.tolerance}"
                )
        elif not equal_after_normalization(target, mine, theirs):
            problems.append(
                f"{_quoted(spec, cross.field, mine)} is not "
                f"{_quoted(spec, cross.field, theirs, cross.column)}"
            )
    return problems


def _quoted(spec: JobSpec, field: str, value: object, name: str | None = None) -> str:
    """A field (or a reference column, `name`, compared with it) and its value, as a reason
    quotes it: a personal field's value is never quoted (reasons are kept and sent in clear)."""
    table, _, column = field.partition(".")
    personal = spec.personal.column(table, column) if column else spec.personal.covers(field)
    return name or field if personal else f"{name or field} {value}"


def _difference(field: FieldSpec, a: object, b: object) -> Decimal | None:
    """|a - b| as numbers of the field's type; None when either is not a number."""
    try:
        x, y = parse_value(field, a), parse_value(field, b)
    except InvalidValue:
        return None
    if not isinstance(x, int | Decimal) or not isinstance(y, int | Decimal):
        return None
    return abs(Decimal(x) - Decimal(y))
