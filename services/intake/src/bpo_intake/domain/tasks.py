"""Tasks: what a contractor keys or reviews, the lease they hold it under, and what
validation is told when they submit it."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.contracts.intake import Suggested
from bpo_common.contracts.sealed import too_large
from bpo_common.errors import Conflict, FieldError, Invalid
from bpo_common.ids import new_id
from bpo_common.rules import CheckResult, FieldType, JobSpec, check
from bpo_intake.domain.contractors import ContractorStatus, refuse_unless_active
from bpo_intake.domain.jobs import entries_per_item

# The skill a contractor needs for review and adjudication tasks (QC_KINDS).
QC_SKILL = "qc"
# The kinds of task only contractors with QC_SKILL take (review_skills).
QC_KINDS = (TaskKind.REVIEW, TaskKind.ADJUDICATION)


class TaskStatus(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"


class TaskTerms(Protocol):
    """What a job gives each of its tasks."""

    @property
    def id(self) -> UUID: ...
    @property
    def client_id(self) -> UUID: ...
    @property
    def priority(self) -> int: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def required_skills(self) -> list[str]: ...


# How far a second keying's priority stands above its job's.
REKEY_PRIORITY = 1


def new_task(
    job: TaskTerms,
    item_id: UUID,
    kind: TaskKind,
    created_at: datetime,
    *,
    required_skills: Sequence[str] | None = None,
    entries: list[dict[str, Any]] | None = None,
    differing: Sequence[str] = (),
    reason: str | None = None,
    rekey: bool = False,
    keyed_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A queued task of `job` for one item, as a row of the task table (`reason`: why
    validation asked for a review or an adjudication); `rekey`: a second
    keying adaptive QC asked for, of `keyed_fields` only when given. A second keying comes
    before the job's first keyings (one priority step above the job's): it finishes an item
    already begun, and what it judges is what adaptive QC learns its keyers from, while the
    job's other items are still to be ruled on."""
    return {
        "id": new_id(),
        "job_id": job.id,
        "item_id": item_id,
        "client_id": job.client_id,
        "kind": kind,
        "status": TaskStatus.QUEUED,
        "required_skills": list(
            job.required_skills if required_skills is None else required_skills
        ),
        "priority": job.priority + REKEY_PRIORITY if rekey else job.priority,
        "due_at": job.due_at,
        "attempts": 0,
        "entries": entries,
        "differing": list(differing),
        "reason": reason,
        "rekey": rekey,
        "keyed_fields": None if keyed_fields is None else list(keyed_fields),
        "created_at": created_at,
    }


def keyed_fields(fields: Sequence[Mapping[str, Any]], asked: Sequence[str]) -> list[str] | None:
    """The fields a second keying keys: the job's that validation asked for, in the job's
    order; None (all of them) when it asked for none of them, or for all."""
    names = [field["name"] for field in fields if field["name"] in asked]
    return names if names and len(names) < len(fields) else None


def shown_fields(
    fields: Sequence[Mapping[str, Any]], keyed: Sequence[str] | None
) -> list[dict[str, Any]]:
    """The field specs a task shows: the job's, or those a partial second keying keys."""
    return [dict(field) for field in fields if keyed is None or field["name"] in keyed]


def integers_as_text(spec: JobSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with the whole numbers of its integer fields, and of its tables' integer
    columns, written as their digits, for a browser: it reads a JSON number as a double, which
    holds 15 to 17 digits (12345678901234567 becomes 12345678901234568), and the rule engine
    reads the digits back as the same number."""
    shown = dict(record)
    for field in spec.fields:
        if field.name not in shown:
            continue
        value = shown[field.name]
        if field.type is FieldType.INTEGER:
            shown[field.name] = _digits(value)
        elif field.type is FieldType.TABLE and isinstance(value, list):
            columns = {c.name for c in field.columns or () if c.type is FieldType.INTEGER}
            shown[field.name] = [_row_as_text(row, columns) for row in value]
    return shown


def source_as_text(source: Mapping[str, Any]) -> dict[str, str]:
    """The client's source for a browser, which only shows it: each value that is not text as
    its JSON, written here, where a whole number keeps every digit (the browser would read
    12345678901234567, or one inside an object or a list, as a double), whatever the key."""
    return {
        key: value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        for key, value in source.items()
    }


def _row_as_text(row: Any, columns: set[str]) -> Any:
    if not isinstance(row, Mapping):
        return row
    return {name: _digits(cell) if name in columns else cell for name, cell in row.items()}


def _digits(value: Any) -> Any:
    # Not a bool, which is an int too.
    return str(value) if type(value) is int else value


def check_keying(
    spec: JobSpec, data: Mapping[str, Any], keyed: Sequence[str] | None, *, draft: bool = False
) -> CheckResult:
    """A keying checked against the job's rules: every field, or, on a partial second keying,
    the fields it keys alone (the others are not required, a value given for one is refused,
    and a rule that reads one is left to validation, which has the first keying's). A draft
    (`draft`) requires no field not given yet. A keying past `MAX_RECORD_BYTES` is refused
    at its largest field."""
    if keyed is None:
        result = check(spec, data, partial=draft)
        refused = []
    else:
        job_fields = {field.name for field in spec.fields}
        refused = [
            FieldError(name, "not one of the fields this second keying keys")
            for name in data
            if name in job_fields and name not in keyed
        ]
        given = {name: value for name, value in data.items() if name not in job_fields}
        given |= {name: data.get(name) for name in keyed if not draft or name in data}
        result = check(spec, given, partial=True)
    # What its event would carry, past what NATS takes with the rest (contracts.sealed).
    if (oversized := too_large(result.normalized)) is not None:
        refused.append(oversized)
    return replace(result, errors=refused + result.errors) if refused else result


def review_skills(required_skills: Sequence[str]) -> list[str]:
    """A review or adjudication needs the job's skills and the qc skill."""
    return sorted({*required_skills, QC_SKILL})


def skills_for(kind: TaskKind, required_skills: Sequence[str]) -> list[str]:
    """The skills a task of `kind` needs on a job that requires `required_skills`."""
    return review_skills(required_skills) if kind in QC_KINDS else list(required_skills)


@dataclass(frozen=True)
class HeldTask:
    """A task as its holder keeps it alive, submits or releases it: with its item, its job's
    terms, and the standing of the contractor who asks."""

    id: UUID
    kind: TaskKind
    status: TaskStatus
    contractor_id: UUID | None
    lease_expires_at: datetime | None
    claimed_at: datetime | None
    item_id: UUID
    job_id: UUID
    client_id: UUID
    golden: dict[str, Any] | None
    source: dict[str, Any]
    work_type: str
    fields: list[dict[str, Any]]
    rules: list[str]
    qc: QcPolicy
    # The file names of the item's documents.
    documents: list[str]
    # Machine pre-fill of the item, and the layout it came from.
    suggestions: dict[str, Any] | None
    layout_id: UUID | None
    contractor_status: ContractorStatus | None
    status_reason: str | None
    # The job's match rule, part of its spec.
    match: dict[str, Any] | None = None
    # The job's data key, wrapped (None: a job made before jobs had one).
    data_key: str | None = None
    # A partial second keying: the only fields it keys (None: all of the job's).
    keyed_fields: list[str] | None = None
    # A control injected at a claim: the control item it copies (domain.controls).
    control_of: UUID | None = None
    # A copy given in a qualification attempt: the attempt.
    attempt_id: UUID | None = None


def lease_lost() -> Conflict:
    return Conflict("this task is not leased to you; claim a new one")


def check_held(task: HeldTask, contractor_id: UUID, now: datetime) -> None:
    """Refuse a contractor who may not work (403), who does not hold the task (409), or whose
    lease on it has run out (409)."""
    if task.contractor_status is not ContractorStatus.ACTIVE:
        refuse_unless_active(task.contractor_status, task.status_reason)
    if task.status is not TaskStatus.LEASED or task.contractor_id != contractor_id:
        raise lease_lost()
    if task.lease_expires_at is None or task.lease_expires_at <= now:
        raise Conflict("the lease on this task has expired; claim a new one")


def check_rejection(kind: TaskKind) -> None:
    """Only a review or an adjudication may reject an item."""
    if kind is TaskKind.ENTRY:
        raise Invalid(
            "only a review or adjudication can reject an item; key the data instead",
            errors=[FieldError(field="reject", message="not allowed on an entry task")],
        )


def check_unreadable(kind: TaskKind, reject: str | None) -> None:
    """Only a keyer marks an item unreadable; a reviewer or adjudicator rejects it."""
    if kind is not TaskKind.ENTRY:
        raise Invalid(
            "only an entry task can mark an item unreadable; reject it with reject instead",
            errors=[FieldError(field="unreadable", message=f"not allowed on a {kind} task")],
        )
    if reject is not None:
        raise Invalid(
            "give reject or unreadable, not both",
            errors=[FieldError(field="unreadable", message="not allowed with reject")],
        )


def entries_expected(policy: QcPolicy, kind: TaskKind, *, control: bool = False) -> int | None:
    """How many entries validation waits for before it decides on the item; None for an
    entry of an adaptive or assisted job, which gets as many as it has entry tasks (one, or
    two once validation asked for a second). A control injected at a claim (`control`) is
    keyed once, in any mode."""
    if kind is not TaskKind.ENTRY or control:
        return 1
    if policy.mode in (QcMode.ADAPTIVE, QcMode.ASSISTED):
        return None
    return entries_per_item(policy)


def suggested(kind: TaskKind, suggestions: Mapping[str, Any] | None) -> dict[str, Suggested]:
    """The pre-fill an entry task showed, as validation scores it."""
    if kind is not TaskKind.ENTRY or not suggestions:
        return {}
    return {name: Suggested.model_validate(shown) for name, shown in suggestions.items()}


def client_values(
    policy: QcPolicy, fields: Sequence[Mapping[str, Any]], source: Mapping[str, Any]
) -> dict[str, Any] | None:
    """In a verify job the item's source carries the client's values for the job's fields."""
    if policy.mode is not QcMode.VERIFY:
        return None
    names = {field["name"] for field in fields}
    return {name: value for name, value in source.items() if name in names}


def requeued_after_expiry(attempts: int, max_attempts: int) -> bool:
    """Whether a task whose lease expired for the `attempts`-th time goes back to the queue;
    if not, its item is flagged for a manager."""
    return attempts < max_attempts


def flag_reason(kind: TaskKind, attempts: int) -> str:
    """Why an item whose task kept expiring waits for a manager."""
    return f"its {kind.value} task's lease expired {attempts} times"


def unclaimable_reason(kind: TaskKind, waited: timedelta) -> str:
    """Why an item whose task nobody may claim waits for a manager."""
    minutes = round(waited.total_seconds() / 60)
    return (
        f"no active contractor may take its {kind.value} task (queued over {minutes} min): none "
        "has the skills it needs, or each who has them already worked on the item"
    )
