"""Rules of tasks: who may work on a held task, what validation is told, what a new task is."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.errors import Conflict, Forbidden, Invalid
from bpo_common.rules import JobSpec, check
from bpo_intake.domain.contractors import ContractorStatus, refuse_unless_active
from bpo_intake.domain.tasks import (
    HeldTask,
    TaskStatus,
    check_held,
    check_rejection,
    check_unreadable,
    client_values,
    entries_expected,
    flag_reason,
    integers_as_text,
    new_task,
    requeued_after_expiry,
    review_skills,
    source_as_text,
)

NOW = datetime(2031, 1, 1, tzinfo=UTC)
KEYER = UUID("0190d7a0-0000-7000-8000-00000000000a")
OTHER = UUID("0190d7a0-0000-7000-8000-00000000000b")
HELD = HeldTask(
    id=UUID("0190d7a0-0000-7000-8000-000000000001"),
    kind=TaskKind.ENTRY,
    status=TaskStatus.LEASED,
    contractor_id=KEYER,
    lease_expires_at=NOW + timedelta(minutes=5),
    claimed_at=NOW,
    item_id=UUID("0190d7a0-0000-7000-8000-000000000002"),
    job_id=UUID("0190d7a0-0000-7000-8000-000000000003"),
    client_id=UUID("0190d7a0-0000-7000-8000-000000000004"),
    golden=None,
    source={"total": "9", "scan": "1.png"},
    work_type="invoice",
    fields=[{"name": "total", "type": "decimal"}],
    rules=[],
    qc=QcPolicy(),
    documents=[],
    suggestions=None,
    layout_id=None,
    contractor_status=ContractorStatus.ACTIVE,
    status_reason=None,
)


@dataclass(frozen=True)
class Terms:
    id: UUID
    client_id: UUID
    priority: int
    due_at: datetime | None
    required_skills: list[str]


JOB = Terms(HELD.job_id, OTHER, 70, None, ["finance"])


def test_the_holder_of_an_unexpired_lease_may_work_on_the_task() -> None:
    check_held(HELD, KEYER, NOW)


@pytest.mark.parametrize(
    ("change", "caller", "refusal", "detail"),
    [
        ({"contractor_status": None}, KEYER, Forbidden, "not registered"),
        (
            {"contractor_status": ContractorStatus.SUSPENDED, "status_reason": "too slow"},
            KEYER,
            Forbidden,
            "this contractor is suspended: too slow",
        ),
        ({}, OTHER, Conflict, "not leased to you"),
        ({"status": TaskStatus.QUEUED}, KEYER, Conflict, "not leased to you"),
        ({"lease_expires_at": NOW}, KEYER, Conflict, "the lease on this task has expired"),
    ],
)
def test_anyone_else_is_refused_saying_why(
    change: dict[str, object], caller: UUID, refusal: type[Exception], detail: str
) -> None:
    with pytest.raises(refusal, match=detail):
        check_held(replace(HELD, **change), caller, NOW)  # type: ignore[arg-type]


def test_a_contractor_gets_no_work_unless_registered_and_active() -> None:
    refuse_unless_active(ContractorStatus.ACTIVE, None)
    with pytest.raises(Forbidden, match="ask a manager"):
        refuse_unless_active(None, None)


def test_only_a_review_or_adjudication_may_reject() -> None:
    check_rejection(TaskKind.REVIEW)
    with pytest.raises(Invalid) as refused:
        check_rejection(TaskKind.ENTRY)
    assert [error.field for error in refused.value.errors] == ["reject"]


@pytest.mark.parametrize("kind", [TaskKind.REVIEW, TaskKind.ADJUDICATION])
def test_only_a_keyer_marks_an_item_unreadable_and_never_with_a_rejection(kind: TaskKind) -> None:
    check_unreadable(TaskKind.ENTRY, None)
    for refused_kind, reject in ((kind, None), (TaskKind.ENTRY, "and rejected")):
        with pytest.raises(Invalid) as refused:
            check_unreadable(refused_kind, reject)
        assert [error.field for error in refused.value.errors] == ["unreadable"]


@pytest.mark.parametrize(
    ("mode", "kind", "expected"),
    [
        (QcMode.SINGLE, TaskKind.ENTRY, 1),
        (QcMode.DOUBLE, TaskKind.ENTRY, 2),
        (QcMode.DOUBLE, TaskKind.REVIEW, 1),
        (QcMode.ADAPTIVE, TaskKind.ENTRY, None),
        (QcMode.ADAPTIVE, TaskKind.ADJUDICATION, 1),
    ],
)
def test_validation_is_told_how_many_entries_to_wait_for(
    mode: QcMode, kind: TaskKind, expected: int | None
) -> None:
    assert entries_expected(QcPolicy(mode=mode), kind) == expected


@pytest.mark.parametrize("mode", list(QcMode))
def test_a_control_injected_at_a_claim_is_keyed_once_in_any_mode(mode: QcMode) -> None:
    assert entries_expected(QcPolicy(mode=mode), TaskKind.ENTRY, control=True) == 1


def test_a_verify_job_sends_the_clients_own_values_of_its_fields() -> None:
    fields = [{"name": "total", "type": "decimal"}]
    source = {"total": "9", "scan": "1.png"}

    assert client_values(QcPolicy(mode=QcMode.VERIFY), fields, source) == {"total": "9"}
    assert client_values(QcPolicy(mode=QcMode.SINGLE), fields, source) is None


def test_a_review_needs_the_jobs_skills_and_qc() -> None:
    assert review_skills(["medical", "qc"]) == ["medical", "qc"]
    assert review_skills(["medical"]) == ["medical", "qc"]


def test_a_new_task_is_queued_with_its_jobs_terms() -> None:
    task = new_task(JOB, HELD.item_id, TaskKind.ENTRY, NOW)

    assert task["status"] is TaskStatus.QUEUED
    assert (task["job_id"], task["client_id"], task["priority"]) == (JOB.id, OTHER, 70)
    assert (task["required_skills"], task["attempts"], task["entries"]) == (["finance"], 0, None)


def test_a_task_whose_lease_keeps_expiring_flags_its_item() -> None:
    assert requeued_after_expiry(2, max_attempts=3)
    assert not requeued_after_expiry(3, max_attempts=3)
    assert flag_reason(TaskKind.REVIEW, 3) == "its review task's lease expired 3 times"


def test_integers_are_given_to_the_page_as_digits_that_read_back_the_same() -> None:
    spec = JobSpec.model_validate({"fields": [
        {"name": "ref", "type": "integer"},
        {"name": "total", "type": "decimal"},
        {"name": "count", "type": "integer"},
        {"name": "lines", "type": "table", "columns": [
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "integer", "required": False},
        ]},
    ]})  # fmt: skip
    record = {
        "ref": 12345678901234567,
        "total": "12.5",
        "lines": [{"sku": "A", "qty": 9007199254740993}, {"sku": "B", "qty": None}],
        "scan": 7,
    }

    shown = integers_as_text(spec, record)

    assert shown == {
        "ref": "12345678901234567",
        "total": "12.5",
        "lines": [{"sku": "A", "qty": "9007199254740993"}, {"sku": "B", "qty": None}],
        "scan": 7,
    }
    # What is not a field (the client's own column) stays as it was; the rest reads back.
    keyed = {name: value for name, value in shown.items() if name != "scan"}
    read = check(spec, keyed, partial=True)
    assert (read.errors, read.normalized) == (
        [],
        keyed | {"ref": record["ref"], "lines": record["lines"]},
    )


def test_the_source_is_given_to_the_page_as_text_with_every_digit_of_its_numbers() -> None:
    source = {"scan": "inv-1", "acct": 12345678901234567, "paid": True, "note": None,
              "meta": {"id": 9007199254740993, "by": "Zoë"}, "rates": [1.5, 2]}  # fmt: skip

    assert source_as_text(source) == {
        "scan": "inv-1",
        "acct": "12345678901234567",
        "paid": "true",
        "note": "null",
        "meta": '{"id":9007199254740993,"by":"Zoë"}',
        "rates": "[1.5,2]",
    }
