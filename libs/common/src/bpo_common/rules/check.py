"""Checking a whole record against a job spec: every field, then the cross-field rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bpo_common.errors import FieldError
from bpo_common.rules.expressions import RuleEvaluationError
from bpo_common.rules.spec import JobSpec
from bpo_common.rules.types import (
    InvalidValue,
    Json,
    Typed,
    equal_after_normalization,
    parse_value,
    to_json,
)


@dataclass(frozen=True)
class CheckResult:
    errors: list[FieldError] = field(default_factory=list)
    # Every field that normalized cleanly, None for empty optional ones; use it when valid.
    normalized: dict[str, Json | None] = field(default_factory=dict)

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
    normalized: dict[str, Json | None] = {}
    values: dict[str, Typed] = {}
    for spec_field in spec.fields:
        if partial and spec_field.name not in data:
            continue
        try:
            value = parse_value(spec_field, data.get(spec_field.name))
        except InvalidValue as exc:
            errors.append(FieldError(spec_field.name, exc.message))
            continue
        normalized[spec_field.name] = None if value is None else to_json(spec_field, value)
        if value is not None:
            values[spec_field.name] = value

    for i, rule in enumerate(spec.compiled_rules):
        if not all(name in values for name in rule.names):
            continue  # a missing or bad field is reported on its own
        try:
            holds = rule.evaluate(values)
        except RuleEvaluationError as exc:
            errors.append(FieldError(f"rules[{i}]", f"cannot check {rule.source}: {exc}"))
            continue
        if not holds:
            shown = ", ".join(f"{name}={normalized[name]}" for name in rule.names)
            detail = f" ({shown})" if shown else ""
            errors.append(FieldError(f"rules[{i}]", f"rule not met: {rule.source}{detail}"))
    return CheckResult(errors=errors, normalized=normalized)


def differing_fields(spec: JobSpec, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose values in two keyings of one record differ after normalizing."""
    return [
        spec_field.name
        for spec_field in spec.fields
        if not equal_after_normalization(spec_field, a.get(spec_field.name), b.get(spec_field.name))
    ]
