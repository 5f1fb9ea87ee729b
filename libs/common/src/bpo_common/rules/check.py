"""Checking a whole record against a job spec: every field, then the cross-field rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bpo_common.errors import FieldError
from bpo_common.rules.expressions import Rule, RuleEvaluationError, sums_kept
from bpo_common.rules.personal import MASK, Personal
from bpo_common.rules.rows import BadTable, Rows, read_table
from bpo_common.rules.spec import FieldType, JobSpec
from bpo_common.rules.types import (
    InvalidValue,
    equal_after_normalization,
    parse_value,
    to_json,
)


@dataclass(frozen=True)
class CheckResult:
    errors: list[FieldError] = field(default_factory=list)
    # Every field that normalized cleanly, None for empty optional ones; use it when valid.
    # (a table's value is its list of rows, each column -> value or None)
    normalized: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


class FieldProblem(BaseModel):
    field: str
    message: str


class CheckResponse(BaseModel):
    """A check's answer over HTTP (validation's dry run, intake's draft check)."""

    valid: bool
    errors: list[FieldProblem]
    normalized: dict[str, Any]

    @classmethod
    def of(cls, result: CheckResult) -> "CheckResponse":
        return cls(
            valid=result.valid,
            errors=[FieldProblem(field=e.field, message=e.message) for e in result.errors],
            normalized=result.normalized,
        )


def check(spec: JobSpec, data: Mapping[str, Any], *, partial: bool = False) -> CheckResult:
    """Check and normalize one record; every problem is reported, not just the first.

    With `partial`, fields absent from `data` are left out instead of being required
    (a golden answer may cover only some fields); rules on them are skipped.
    """
    names = {spec_field.name for spec_field in spec.fields}
    errors = [FieldError(key, "not a field of this job") for key in data if key not in names]
    normalized: dict[str, Any] = {}
    values: dict[str, Any] = {}
    tables: dict[str, Rows] = {}
    for spec_field in spec.fields:
        if partial and spec_field.name not in data:
            continue
        if spec_field.type is FieldType.TABLE:
            try:
                rows = read_table(spec_field, data.get(spec_field.name))
            except BadTable as exc:
                errors += exc.errors
                continue
            normalized[spec_field.name] = None if rows is None else rows.canonical
            if rows is not None:
                values[spec_field.name], tables[spec_field.name] = rows.typed, rows
            continue
        try:
            value = parse_value(spec_field, data.get(spec_field.name))
        except InvalidValue as exc:
            errors.append(FieldError(spec_field.name, exc.message))
            continue
        normalized[spec_field.name] = None if value is None else to_json(spec_field, value)
        if value is not None:
            values[spec_field.name] = value

    with sums_kept():
        errors += _rules_broken(spec, values, normalized, tables)
    return CheckResult(errors=errors, normalized=normalized)


def _rules_broken(
    spec: JobSpec, values: dict[str, Any], normalized: dict[str, Any], tables: dict[str, Rows]
) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, rule in enumerate(spec.compiled_rules):
        if rule.rows is None:
            errors += _broken(i, rule, values, normalized, spec.personal)
        elif rule.rows in tables:
            for r, (typed, canonical) in enumerate(
                zip(tables[rule.rows].typed, tables[rule.rows].canonical, strict=True)
            ):
                cells = {f"{rule.rows}.{column}": value for column, value in typed.items()}
                shown = {f"{rule.rows}[{r}].{column}": value for column, value in canonical.items()}
                scope = {**values, **cells}
                shown_too = {**normalized, **shown}
                errors += _broken(i, rule, scope, shown_too, spec.personal, f"{rule.rows}[{r}]")
    return errors


def _broken(
    i: int,
    rule: Rule,
    values: Mapping[str, Any],
    shown: Mapping[str, Any],
    personal: Personal,
    row: str | None = None,
) -> list[FieldError]:
    """Why rule `i` is not met on these values (on one row of a table, `row`), if it is not:
    with the values it read, a personal one masked (the reason is kept and sent in clear)."""
    if not all(name in values for name in rule.names):
        return []  # a missing or bad field is reported on its own; an empty cell too
    where = f" on {row}" if row else ""
    try:
        holds = rule.evaluate(values)
    except RuleEvaluationError as exc:
        return [FieldError(f"rules[{i}]", f"cannot check {rule.source}{where}: {exc}")]
    if holds:
        return []
    named = {_shown_name(name, rule.rows, row): name for name in rule.names}
    # A table a rule adds up is not shown whole.
    cells = [name for name in named if name in shown and not isinstance(shown[name], list)]
    detail = ", ".join(
        f"{name}={MASK if _is_personal(personal, named[name]) else shown[name]}" for name in cells
    )
    detail = f" ({detail})" if detail else ""
    return [FieldError(f"rules[{i}]", f"rule not met{where}: {rule.source}{detail}")]


def _is_personal(personal: Personal, name: str) -> bool:
    """Whether a name a rule reads (`net`, or a cell of its row, `lines.qty`) is personal."""
    table, _, column = name.partition(".")
    return personal.column(table, column) if column else personal.covers(name)


def _shown_name(name: str, table: str | None, row: str | None) -> str:
    """How a name a rule reads is shown: a cell of the row checked as `lines[3].qty`."""
    if table is not None and row is not None and name.startswith(f"{table}."):
        return row + name[len(table) :]
    return name


def differing_fields(spec: JobSpec, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose values in two keyings of one record differ after normalizing."""
    return [
        spec_field.name
        for spec_field in spec.fields
        if not equal_after_normalization(spec_field, a.get(spec_field.name), b.get(spec_field.name))
    ]
