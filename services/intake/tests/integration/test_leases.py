"""Lease holders submit, keep alive or give back their tasks; expired leases return to the queue.

The sweep here gives back every expired lease in the shared database, so this file runs before
test_work_queue.py, which leases a thousand tasks due earlier than these.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from random import Random
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from bpo_common.contracts import TaskKind
from bpo_common.crypto import DataKeys, KeyUnavailable, LocalKeyRing, new_kek
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
    outbox_events,
)
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.domain.links import PageLinks
from bpo_intake.domain.tasks import TaskStatus, unclaimable_reason
from bpo_intake.models import Item, Task
from bpo_intake.repository import qualifications
from bpo_intake.schemas import ClaimRequest
from bpo_intake.service import tasks

from .conftest import opened_events, stored_items
from .keying import (
    INVOICE_LINES,
    claim_tasks,
    keying_job,
    lease_a_task,
    new_contractor,
    past,
    stored_task,
)

LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
# Long enough for a sweep that does not wait for the item to have answered many times over.
SWEEP_ANSWERS_WITHIN_S = 10


async def test_a_valid_submission_is_recorded_normalized_and_sent_to_validation(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, contractor_id, keyer, task = await lease_a_task(intake, tokens)

    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"invoice_number": "  INV-1 ", "total": "1,250.50"}},
        headers=keyer,
    )

    assert response.status_code == 202, response.text
    assert response.json()["data"] == {
        "invoice_number": "INV-1",
        "total": "1250.5",
        "iban": None,
    }
    stored = await stored_task(intake_db, task["id"])
    assert stored.status is TaskStatus.SUBMITTED
    assert stored.submitted_by == contractor_id
    (event,) = [
        e
        for e in await opened_events(intake_db, data_keys, job_id=job["id"])
        if e.type == "bpo.intake.task.submitted"
    ]
    assert event.data["data"]["total"] == "1250.5"
    assert event.data["contractor_id"] == str(contractor_id)
    assert event.data["entries_expected"] == 1


async def test_a_submission_that_breaks_the_rules_names_every_bad_field_and_changes_nothing(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    _, _, keyer, task = await lease_a_task(intake, tokens)

    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"total": "twelve", "iban": "DE00 1234", "colour": "red"}},
        headers=keyer,
    )

    problem = assert_problem(response, 422)
    assert sorted(error_fields(problem)) == ["colour", "iban", "invoice_number", "total"]
    assert (await stored_task(intake_db, task["id"])).status is TaskStatus.LEASED


async def test_a_submission_with_bad_cells_names_each_cell_and_stores_nothing(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job, _, keyer, task = await lease_a_task(intake, tokens, fields=INVOICE_LINES)
    lines = [
        {"line": 1, "sku": "A-1", "qty": "lots", "price": "9.90"},
        {"line": 2, "sku": "B-2", "qty": "1", "price": "9.999"},
        {"line": 1, "sku": "C-3", "qty": "2", "price": "1", "zz": "?"},
    ]

    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"po_number": "PO-7", "lines": lines}},
        headers=keyer,
    )

    problem = assert_problem(response, 422)
    assert {e["field"]: e["message"] for e in problem["errors"]} == {
        "lines[0].qty": "not a number",
        "lines[1].price": "must have at most 2 decimal places",
        "lines[2].zz": "not a column of lines",
        "lines[2].line": "repeats the line of lines[0]: 1",
    }
    assert (await stored_task(intake_db, task["id"])).status is TaskStatus.LEASED
    events = await outbox_events(intake_db, job_id=job["id"])
    assert "bpo.intake.task.submitted" not in [e.type for e in events]

    lines = [{"line": 1, "sku": " A-1 ", "qty": "1,000", "price": "9.9"}]
    good = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"po_number": "PO-7", "lines": lines}},
        headers=keyer,
    )
    assert good.status_code == 202, good.text
    normalized = [{"line": 1, "sku": "A-1", "qty": "1000", "price": "9.90"}]
    assert good.json()["data"] == {"po_number": "PO-7", "lines": normalized}
    assert (await stored_task(intake_db, task["id"])).data == good.json()["data"]


async def test_only_the_lease_holder_may_submit_heartbeat_or_release(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    _, _, holder, task = await lease_a_task(intake, tokens)
    _, other = await new_contractor(intake, tokens)
    data = {"data": {"invoice_number": "A", "total": "1"}}

    for action, body in (("submit", data), ("heartbeat", None), ("release", None)):
        response = await intake.post(f"/v1/tasks/{task['id']}/{action}", json=body, headers=other)
        assert "not leased to you" in assert_problem(response, 409)["detail"]

    beat = await intake.post(f"/v1/tasks/{task['id']}/heartbeat", headers=holder)
    assert datetime.fromisoformat(beat.json()["lease_expires_at"]) >= datetime.fromisoformat(
        task["lease_expires_at"]
    )
    released = await intake.post(f"/v1/tasks/{task['id']}/release", headers=holder)
    assert released.status_code == 204
    late = await intake.post(f"/v1/tasks/{task['id']}/submit", json=data, headers=holder)
    assert_problem(late, 409)
    again = await claim_tasks(intake, other)
    assert [t["id"] for t in again] == [task["id"]]


async def test_an_expired_lease_goes_back_to_the_queue_and_then_flags_the_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    _, _, keyer, task = await lease_a_task(intake, tokens, due_at=past(-200))
    future = datetime.now(UTC) + timedelta(days=1)
    stored: Task | None = None

    for attempt in (1, 2, 3):
        async with intake_db() as session, session.begin():
            swept = await tasks.sweep_expired_leases(session, max_attempts=3, now=future)
        assert swept >= 1
        stored = await stored_task(intake_db, task["id"])
        assert stored.attempts == attempt
        if attempt < 3:
            assert stored.status is TaskStatus.QUEUED
            late = await intake.post(
                f"/v1/tasks/{task['id']}/submit",
                json={"data": {"invoice_number": "A", "total": "1"}},
                headers=keyer,
            )
            assert_problem(late, 409)
            (task,) = await claim_tasks(intake, keyer)
    assert stored is not None
    assert stored.status is TaskStatus.CANCELLED
    flagged = await intake.get("/v1/items/flagged?limit=500", headers=tokens.manager())
    (item,) = [i for i in flagged.json()["data"] if i["id"] == str(stored.item_id)]
    assert item["flagged_reason"] == "its entry task's lease expired 3 times"
    requeued = await intake.post(f"/v1/items/{item['id']}/requeue", headers=tokens.manager())
    assert requeued.json()["flagged_reason"] is None
    (fresh,) = await claim_tasks(intake, keyer)
    assert fresh["item_id"] == item["id"]
    expired = [
        e
        for e in await outbox_events(intake_db, job_id=str(stored.job_id))
        if e.type == "bpo.intake.task.expired"
    ]
    assert [(e.data["attempts"], e.data["requeued"]) for e in expired] == [
        (1, True),
        (2, True),
        (3, False),
    ]


async def test_requeue_gives_back_the_keying_that_kept_expiring_beside_one_still_open(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Double keying: one of the item's two keyings expires three times while the other
    waits. The requeue gives it back, and it asks for the skills the job asks for now (a
    qualification put for the work type meanwhile)."""
    work_type = f"requeued-{new_id().hex[:12]}"
    _, _, keyer, task = await lease_a_task(
        intake, tokens, due_at=past(-300), qc={"mode": "double"}, work_type=work_type
    )
    future = datetime.now(UTC) + timedelta(days=1)
    for attempt in (1, 2, 3):
        async with intake_db() as session, session.begin():
            await tasks.sweep_expired_leases(session, max_attempts=3, now=future)
        if attempt < 3:
            (task,) = await claim_tasks(intake, keyer)
    async with intake_db() as session, session.begin():
        await qualifications.require_skill(session, work_type)

    requeued = await intake.post(f"/v1/items/{task['item_id']}/requeue", headers=tokens.manager())

    assert requeued.json()["flagged_reason"] is None, requeued.text
    item_id = UUID(task["item_id"])
    queued = select(Task).where(Task.item_id == item_id, Task.status == TaskStatus.QUEUED)
    async with intake_db() as session:
        other, afresh = (await session.execute(queued.order_by(Task.created_at))).scalars()
    assert [other.required_skills, afresh.required_skills] == [[work_type]] * 2
    given_up = await stored_task(intake_db, task["id"])
    assert (given_up.status, afresh.id != given_up.id) == (TaskStatus.CANCELLED, True)
    assert given_up.requeued_at == afresh.created_at
    # The other keying, claimed before that requeue, is given up on too; then the item is
    # flagged once more for nothing to make: each given-up keying is made afresh once.
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Task)
            .where(Task.id == other.id)
            .values(status=TaskStatus.CANCELLED, attempts=3, claimed_at=LONG_AGO)
        )
    for _ in range(2):
        async with intake_db() as session, session.begin():
            flag = update(Item).where(Item.id == item_id).values(flagged_reason="expired")
            await session.execute(flag)
        await intake.post(f"/v1/items/{item_id}/requeue", headers=tokens.manager())
        async with intake_db() as session:
            assert len(list((await session.execute(queued)).scalars())) == 2


async def test_a_lease_whose_item_another_transaction_holds_expires_on_a_later_sweep(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    _, _, _, task = await lease_a_task(intake, tokens, due_at=past(-200))
    future = datetime.now(UTC) + timedelta(days=1)
    # Its third expiry flags the item, which takes the item's lock.
    async with intake_db() as session, session.begin():
        await session.execute(update(Task).where(Task.id == UUID(task["id"])).values(attempts=2))

    async with intake_db() as holder, holder.begin():
        # As an erasure (or a decision) holds the item, and then waits for its tasks.
        await holder.execute(select(Item).where(Item.id == UUID(task["item_id"])).with_for_update())
        async with intake_db() as session, session.begin():
            sweep = tasks.sweep_expired_leases(session, max_attempts=3, now=future)
            await asyncio.wait_for(sweep, SWEEP_ANSWERS_WITHIN_S)
        stored = await stored_task(intake_db, task["id"])
        assert (stored.status, stored.attempts) == (TaskStatus.LEASED, 2), "left for later"

    async with intake_db() as session, session.begin():
        await tasks.sweep_expired_leases(session, max_attempts=3, now=future)
    stored = await stored_task(intake_db, task["id"])
    assert (stored.status, stored.attempts) == (TaskStatus.CANCELLED, 3)
    async with intake_db() as session:
        item = await session.get(Item, UUID(task["item_id"]))
    assert item is not None
    assert item.flagged_reason == "its entry task's lease expired 3 times"


async def test_only_a_review_may_reject_an_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    _, _, keyer, task = await lease_a_task(intake, tokens)
    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"reject": "unreadable"}, headers=keyer
    )
    assert error_fields(assert_problem(response, 422)) == ["reject"]
    assert (await stored_task(intake_db, task["id"])).status is TaskStatus.LEASED


async def test_a_keyer_marks_an_item_unreadable_with_the_time_spent_and_validation_hears_why(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    _, _, keyer, task = await lease_a_task(intake, tokens)
    both = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"unreadable": "blurred", "reject": "blurred"},
        headers=keyer,
    )
    assert error_fields(assert_problem(both, 422)) == ["unreadable"]

    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={
            "unreadable": "the total is torn off",
            "data": {"total": "1"},
            "active_seconds": 41.5,
        },
        headers=keyer,
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"] == {}
    stored = await stored_task(intake_db, task["id"])
    assert (stored.status, stored.data) == (TaskStatus.SUBMITTED, {})
    # Claimed a moment ago: the time reported is cut to the time the task was held.
    assert stored.claimed_at is not None
    assert stored.submitted_at is not None
    held = (stored.submitted_at - stored.claimed_at).total_seconds()
    assert stored.active_seconds is not None
    assert stored.active_seconds == round(held, 3) < 41.5
    (event,) = await opened_events(
        intake_db, data_keys, "bpo.intake.task.submitted", task_id=task["id"]
    )
    assert (event.data["rejection"], event.data["data"]) == ("the total is torn off", {})
    assert event.data["active_seconds"] == stored.active_seconds


async def test_time_on_task_cannot_be_negative(intake: httpx.AsyncClient, tokens: Tokens) -> None:
    _, _, keyer, task = await lease_a_task(intake, tokens)
    negative = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"invoice_number": "A", "total": "1"}, "active_seconds": -1},
        headers=keyer,
    )
    assert error_fields(assert_problem(negative, 422)) == ["active_seconds"]


async def test_a_task_shows_the_jobs_instructions_and_each_fields_label_and_help(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    fields = [
        {"name": "total", "type": "decimal", "label": "Total due", "help": "With tax, as printed"}
    ]
    instructions = "# Invoices\n\nKey the **total** as printed. <script>alert(1)</script>"
    job = await keying_job(intake, tokens, 1, fields=fields, instructions=instructions)
    assert job["instructions"] == instructions
    assert job["fields"][0]["label"] == "Total due"
    _, keyer = await new_contractor(intake, tokens)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert task["instructions"] == instructions
    assert (task["fields"][0]["label"], task["fields"][0]["help"]) == (
        "Total due",
        "With tax, as printed",
    )


async def test_a_claim_that_fails_after_its_leases_gives_them_back(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """The claim statement commits on its own (its candidates stay locked no longer than it
    runs); when what follows fails (here: the job's data key, under a key ring that does not
    hold its KEK), the tasks go back to the queue instead of waiting for the lease's end, and
    their items as they were: pending, flagged if they were (nobody took them)."""
    personal = [{"name": "holder", "type": "string", "pii": True}]
    job = await keying_job(intake, tokens, 1, fields=personal)
    (item,) = await stored_items(intake_db, job["id"])
    flag = unclaimable_reason(TaskKind.ENTRY, timedelta(minutes=10))
    async with intake_db() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item.id).values(flagged_reason=flag))
    keyer_id, _ = await new_contractor(intake, tokens)
    elsewhere = DataKeys(LocalKeyRing.parse(new_kek("elsewhere")))
    request = ClaimRequest(limit=1, job_id=UUID(job["id"]))

    async def claim() -> None:
        async with intake_db() as session, session.begin():
            await tasks.claim(
                session, keyer_id, request, lease_seconds=300, links=PageLinks(b"k" * 32, 900),
                keys=elsewhere, draw=Random(),
            )  # fmt: skip

    with pytest.raises(KeyUnavailable):
        await claim()

    async with intake_db() as session:
        (task,) = await session.scalars(select(Task).where(Task.job_id == UUID(job["id"])))
        stored = await session.get(Item, item.id)
    assert (task.status, task.contractor_id) == (TaskStatus.QUEUED, None)
    assert stored is not None
    assert (stored.status, stored.flagged_reason) == (ItemStatus.PENDING, flag)
