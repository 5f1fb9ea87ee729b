"""Pure rules of quality control: sampling, comparing keyings, judging fields."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common.rules import JobSpec, equal_after_normalization


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
