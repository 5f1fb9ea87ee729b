"""Field by field: comparing keyings, judging entries against the truth.

A table is compared and judged cell by cell, its rows aligned first (`rows.cells`): a
comparison lists the cells that differ (`lines[3].qty`), and a judged entry has one verdict
per cell, named by its column (`lines.qty`); a row the entry lacks or has too many is wrong in
every column.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bpo_common.rules import (
    FieldSpec,
    FieldType,
    JobSpec,
    Personal,
    check,
    equal_after_normalization,
)
from bpo_common.rules.personal import Sealer
from bpo_common.rules.rows import cell_path, cells, rows_of

# An item's tables and how many rows each has, by name: a judged name of a table's column
# counts once a row (`table_rows`).
Rows = tuple[tuple[str, int], ...]


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
        row: dict[str, Any] = {"field": field.name, "values": values, "equal": equal}
        if field.type is FieldType.TABLE and not equal:
            row["cells"] = [
                {"cell": cell_path(field, cell), "rows": cell.rows, "values": cell.values}
                for cell in cells(field, values)
                if not cell.equal
            ]
        rows.append(row)
    return rows


def personal_comparison(
    personal: Personal, rows: Sequence[Mapping[str, Any]], change: Callable[[Any], Any]
) -> list[dict[str, Any]]:
    """A comparison with each of its personal values changed: sealed to be kept, opened or
    masked to be shown."""
    changed = []
    for row in rows:
        name = row["field"]
        if not (personal.covers(name) or name in personal.columns):
            changed.append(dict(row))
            continue
        values = [
            None if v is None else personal.map({name: v}, change)[name] for v in row["values"]
        ]
        cells = [
            cell | {"values": [None if v is None else change(v) for v in cell["values"]]}
            if personal.column(name, cell["cell"].rsplit(".", 1)[-1])
            else cell
            for cell in row.get("cells", ())
        ]
        changed.append({**row, "values": values} | ({"cells": cells} if "cells" in row else {}))
    return changed


def sealed_comparison(
    spec: JobSpec, rows: Sequence[Mapping[str, Any]], key: Sealer
) -> list[dict[str, Any]]:
    """A comparison as it is kept: its personal values sealed with the job's data key."""
    return personal_comparison(spec.personal, rows, key.seal)


def differing(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the entries of a comparison do not all agree: fields, and a table's cells."""
    found = []
    for row in rows:
        if not row["equal"]:
            found += [cell["cell"] for cell in row["cells"]] if row.get("cells") else [row["field"]]
    return found


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
    # When the keyer was shown a wrong pre-fill for the field: whether they accepted it.
    accepted_wrong_prefill: bool | None = None


def judge(
    spec: JobSpec,
    entry: Mapping[str, Any],
    truth: Mapping[str, Any],
    prefill: Mapping[str, Any] | None = None,
) -> list[FieldVerdict]:
    """Each field of an entry against the truth (a known answer, or the final result), and,
    where the keyer was shown a pre-fill (`prefill`) that was wrong, whether they kept it.

    Only fields the truth covers are judged: a golden answer may give some fields only.
    """
    verdicts: list[FieldVerdict] = []
    for field in spec.fields:
        if field.name not in truth:
            continue
        value, right = entry.get(field.name), truth[field.name]
        if field.type is FieldType.TABLE:
            verdicts += _judge_cells(field, value, right)
            continue
        kept = None
        if prefill and field.name in prefill:
            shown = prefill[field.name]
            if not equal_after_normalization(field, shown, right):
                kept = equal_after_normalization(field, value, shown)
        verdicts.append(
            FieldVerdict(field.name, equal_after_normalization(field, value, right), kept)
        )
    return verdicts


def judged_fields(spec: JobSpec) -> list[str]:
    """The names fields are judged by: a field's, or `table.column` for a table's cells."""
    return [
        name
        for field in spec.fields
        for name in (
            [f"{field.name}.{column.name}" for column in field.columns or ()]
            if field.type is FieldType.TABLE
            else [field.name]
        )
    ]


def table_rows(spec: JobSpec, entry: Mapping[str, Any]) -> Rows:
    """How many rows each of the job's tables has in an entry: an item is right only if each
    of its cells is, so each of a column's cells is a judged field of its own."""
    return tuple(
        sorted(
            (field.name, len(rows_of(entry.get(field.name))))
            for field in spec.fields
            if field.type is FieldType.TABLE
        )
    )


def field_of(judged: str) -> str:
    """The field a judged name is of: a table's, for its cells (`lines.qty`)."""
    return judged.partition(".")[0]


def _judge_cells(table: FieldSpec, value: object, right: object) -> Iterator[FieldVerdict]:
    """A table's cells against the truth's, rows aligned: one verdict per cell of either."""
    for cell in cells(table, [right, value]):
        yield FieldVerdict(f"{table.name}.{cell.column}", cell.equal)
