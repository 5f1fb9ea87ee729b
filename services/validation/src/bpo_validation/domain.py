"""Pure rules of quality control: sampling, comparing keyings, judging fields, matching
reference data."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common.rules import (
    FieldSpec,
    InvalidValue,
    JobSpec,
    equal_after_normalization,
    parse_value,
)


def sampled_for_review(item_id: UUID, rate: Decimal) -> bool:
    """Deterministic by item id: the same item is always in, or out of, the sample."""
    # The low 62 bits of a UUIDv7 are random (the two above them are its variant), so they
    # spread evenly over [0, 1).
    return Decimal(item_id.int & (2**62 - 1)) / Decimal(2**62) < rate


def comparison(spec: JobSpec, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Field by field: each entry's value and whether all agree after normalization."""
    rows = []
    for field in spec.fields:
        values = [entry.get(field.name) for entry in entries]
        equal = all(equal_after_normalization(field, values[0], value) for value in values[1:])
        rows.append({"field": field.name, "values": values, "equal": equal})
    return rows


def unconfirmed(
    spec: JobSpec, answer: Mapping[str, Any], keyings: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The fields on which an adjudicator's answer agrees with none of the keyings."""
    return [
        field.name
        for field in spec.fields
        if not any(
            equal_after_normalization(field, answer.get(field.name), keying.get(field.name))
            for keying in keyings
        )
    ]


@dataclass(frozen=True)
class FieldVerdict:
    field: str
    correct: bool


def judge(spec: JobSpec, entry: Mapping[str, Any], truth: Mapping[str, Any]) -> list[FieldVerdict]:
    """Each field of an entry against the truth (a known answer, or the final result).

    Only fields the truth covers are judged: a golden answer may give some fields only.
    """
    return [
        FieldVerdict(
            field.name, equal_after_normalization(field, entry.get(field.name), truth[field.name])
        )
        for field in spec.fields
        if field.name in truth
    ]


def accuracy(correct: int, judged: int) -> float | None:
    return correct / judged if judged else None


def reference_key(value: object) -> str:
    """How keys of reference data match: trimmed, spaces collapsed, case ignored."""
    return " ".join(str(value).split()).casefold()


def reference_mismatches(
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
                    f"{cross.field} {mine} differs from {cross.column} {theirs} by more than "
                    f"{cross.tolerance}"
                )
        elif not equal_after_normalization(target, mine, theirs):
            problems.append(f"{cross.field} {mine} is not {cross.column} {theirs}")
    return problems


def _difference(field: FieldSpec, a: object, b: object) -> Decimal | None:
    """|a - b| as numbers of the field's type; None when either is not a number."""
    try:
        x, y = parse_value(field, a), parse_value(field, b)
    except InvalidValue:
        return None
    if not isinstance(x, int | Decimal) or not isinstance(y, int | Decimal):
        return None
    return abs(Decimal(x) - Decimal(y))
