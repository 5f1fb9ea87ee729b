"""Field by field: sampling items for review, comparing keyings, judging entries against the
truth."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common.rules import JobSpec, check, equal_after_normalization


def sampled_for_review(item_id: UUID, rate: Decimal) -> bool:
    """Deterministic by item id: the same item is always in, or out of, the sample."""
    # The low 62 bits of a UUIDv7 are random (the two above them are its variant), so they
    # spread evenly over [0, 1).
    return Decimal(item_id.int & (2**62 - 1)) / Decimal(2**62) < rate


def canonical(spec: JobSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's values in canonical form (intake sends them so; this keeps results exact)."""
    return {**data, **check(spec, data).normalized}


def rule_failures(spec: JobSpec, keyings: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the keyings cannot be accepted as they are, if any fails the job's rules.

    Intake refuses such a submission, so this is a defence: an entry from another producer,
    or checked against an older spec, is never accepted unchecked."""
    failures = [
        f"keying {n} of {len(keyings)} fails the job's rules: "
        + "; ".join(f"{error.field}: {error.message}" for error in errors)
        for n, keying in enumerate(keyings, 1)
        if (errors := check(spec, keying).errors)
    ]
    return "; ".join(failures) or None


def comparison(spec: JobSpec, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Field by field: each entry's value and whether all agree after normalization."""
    rows = []
    for field in spec.fields:
        values = [entry.get(field.name) for entry in entries]
        equal = all(equal_after_normalization(field, values[0], value) for value in values[1:])
        rows.append({"field": field.name, "values": values, "equal": equal})
    return rows


def differing(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The fields of a comparison on which the entries do not all agree."""
    return [row["field"] for row in rows if not row["equal"]]


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
