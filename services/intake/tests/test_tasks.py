"""Work distribution: claiming, leases, submitting, releasing, and the lease sweeper."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.contracts.intake import Entry
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields
from bpo_intake import decisions, tasks
from bpo_intake.models import Item, ItemStatus, Task, TaskStatus

from .conftest import create_job, outbox_envelopes, register_client

FIELDS = [
    {"name": "invoice_number", "type": "string", "required": True},
    {"name": "total", "type": "decimal", "required": True},
    {"name": "iban", "type": "iban", "required": False},
]


def _past(days: int) -> str:
    """A deadline in the past sorts these tests' tasks ahead of every other test's."""
    return (datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=days)).isoformat()


async def _contractor(
    intake: httpx.AsyncClient, tokens: Tokens, *skills: str
) -> tuple[UUID, dict[str, str]]:
    response = await intake.post(
        "/v1/contractors",
        json={"name": f"keyer {new_id()}", "skills": list(skills)},
        headers=tokens.manager(),
    )
    assert response.status_code == 201, response.text
    contractor_id = UUID(response.json()["id"])
    return contractor_id, tokens.contractor(contractor_id)


async def _job(
    intake: httpx.AsyncClient, tokens: Tokens, items: int, **overrides: Any
) -> dict[str, Any]:
    client_id = await register_client(intake, tokens)
    return await create_job(
        intake,
        tokens,
        client_id,
        **{
            "fields": FIELDS,
            "qc": {"mode": "single"},
            "sla_hours": None,
            "due_at": _past(0),
            "items": [{"external_id": f"doc-{n}", "source": {"page": n}} for n in range(items)],
            **overrides,
        },
    )


async def _claim(
    intake: httpx.AsyncClient, headers: dict[str, str], limit: int = 1, **body: Any
) -> list[dict[str, Any]]:
    response = await intake.post("/v1/tasks/claim", json={"limit": limit, **body}, headers=headers)
    assert response.status_code == 200, response.text
    claimed: list[dict[str, Any]] = response.json()["tasks"]
    return claimed


async def test_claim_leases_the_most_urgent_task_with_what_the_keyer_needs(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    later = await _job(intake, tokens, 1, due_at=_past(2), priority=100)
    sooner_low = await _job(intake, tokens, 1, due_at=_past(1), priority=10)
    sooner_high = await _job(intake, tokens, 1, due_at=_past(1), priority=90)
    _, keyer = await _contractor(intake, tokens)

    claimed = await _claim(intake, keyer, limit=3)

    assert [task["job_id"] for task in claimed] == [
        sooner_high["id"],
        sooner_low["id"],
        later["id"],
    ]
    first = claimed[0]
    assert first["kind"] == "entry"
    assert first["fields"] == sooner_high["fields"]
    assert first["source"] == {"page": 0}
    assert first["entries"] is None
    lease = datetime.fromisoformat(first["lease_expires_at"])
    assert timedelta(seconds=250) < lease - datetime.now(UTC) <= timedelta(seconds=300)


async def test_a_claim_may_ask_for_one_jobs_tasks_only(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    urgent = await _job(intake, tokens, 2)
    later = await _job(intake, tokens, 2, due_at=_past(1))
    _, keyer = await _contractor(intake, tokens)
    claimed = await _claim(intake, keyer, limit=5, job_id=later["id"])
    assert [task["job_id"] for task in claimed] == [later["id"], later["id"]]
    assert urgent["id"] not in {task["job_id"] for task in claimed}


async def test_a_keyer_never_gets_both_keyings_of_an_item(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await _job(intake, tokens, 3, qc={"mode": "double"})
    _, first = await _contractor(intake, tokens)
    _, second = await _contractor(intake, tokens)

    mine = [t for t in await _claim(intake, first, limit=10) if t["job_id"] == job["id"]]
    assert len(mine) == 3
    assert len({task["item_id"] for task in mine}) == 3
    assert [t for t in await _claim(intake, first, limit=10) if t["job_id"] == job["id"]] == []
    theirs = [t for t in await _claim(intake, second, limit=10) if t["job_id"] == job["id"]]
    assert {t["item_id"] for t in theirs} == {t["item_id"] for t in mine}
    assert not {t["id"] for t in theirs} & {t["id"] for t in mine}


async def test_tasks_go_only_to_keyers_with_the_required_skills(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    skill = f"medical-{new_id().hex[:8]}"
    job = await _job(intake, tokens, 1, required_skills=[skill])
    _, unskilled = await _contractor(intake, tokens)
    _, skilled = await _contractor(intake, tokens, skill)

    assert job["id"] not in {t["job_id"] for t in await _claim(intake, unskilled, limit=50)}
    assert [t["job_id"] for t in await _claim(intake, skilled)] == [job["id"]]


async def test_a_suspended_keyer_gets_no_work_and_is_told_why(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    contractor_id, keyer = await _contractor(intake, tokens)
    suspended = await intake.post(
        f"/v1/contractors/{contractor_id}/suspend",
        json={"reason": "accuracy below 80% on invoices"},
        headers=tokens.manager(),
    )
    assert suspended.json()["status"] == "suspended"

    problem = assert_problem(await intake.post("/v1/tasks/claim", json={}, headers=keyer), 403)
    assert "accuracy below 80% on invoices" in problem["detail"]

    await intake.post(f"/v1/contractors/{contractor_id}/activate", headers=tokens.manager())
    assert (await intake.post("/v1/tasks/claim", json={}, headers=keyer)).status_code == 200


async def test_a_valid_submission_is_recorded_normalized_and_sent_to_validation(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await _job(intake, tokens, 1)
    contractor_id, keyer = await _contractor(intake, tokens)
    (task,) = await _claim(intake, keyer)

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
    async with intake_db() as session:
        stored = await session.get(Task, UUID(task["id"]))
        assert stored is not None
        assert stored.status is TaskStatus.SUBMITTED
        assert stored.submitted_by == contractor_id
    (event,) = [
        e
        for e in await outbox_envelopes(intake_db, UUID(job["id"]))
        if e.type == "bpo.intake.task.submitted"
    ]
    assert event.data["data"]["total"] == "1250.5"
    assert event.data["contractor_id"] == str(contractor_id)
    assert event.data["entries_expected"] == 1


async def test_a_submission_that_breaks_the_rules_names_every_bad_field_and_changes_nothing(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    await _job(intake, tokens, 1)
    _, keyer = await _contractor(intake, tokens)
    (task,) = await _claim(intake, keyer)

    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit",
        json={"data": {"total": "twelve", "iban": "DE00 1234", "colour": "red"}},
        headers=keyer,
    )

    problem = assert_problem(response, 422)
    assert sorted(error_fields(problem)) == ["colour", "iban", "invoice_number", "total"]
    async with intake_db() as session:
        stored = await session.get(Task, UUID(task["id"]))
        assert stored is not None
        assert stored.status is TaskStatus.LEASED


async def test_only_the_lease_holder_may_submit_heartbeat_or_release(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    await _job(intake, tokens, 1)
    _, holder = await _contractor(intake, tokens)
    _, other = await _contractor(intake, tokens)
    (task,) = await _claim(intake, holder)
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
    again = await _claim(intake, other)
    assert [t["id"] for t in again] == [task["id"]]


async def test_an_expired_lease_goes_back_to_the_queue_and_then_flags_the_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    await _job(intake, tokens, 1, due_at=_past(-200))
    _, keyer = await _contractor(intake, tokens)
    future = datetime.now(UTC) + timedelta(days=1)
    stored: Task | None = None

    (task,) = await _claim(intake, keyer)
    for attempt in (1, 2, 3):
        async with intake_db() as session, session.begin():
            swept = await tasks.sweep_expired_leases(session, max_attempts=3, now=future)
        assert swept >= 1
        async with intake_db() as session:
            stored = await session.get(Task, UUID(task["id"]))
            assert stored is not None
            assert stored.attempts == attempt
        if attempt < 3:
            assert stored.status is TaskStatus.QUEUED
            late = await intake.post(
                f"/v1/tasks/{task['id']}/submit",
                json={"data": {"invoice_number": "A", "total": "1"}},
                headers=keyer,
            )
            assert_problem(late, 409)
            (task,) = await _claim(intake, keyer)
    assert stored is not None
    assert stored.status is TaskStatus.CANCELLED
    flagged = await intake.get("/v1/items/flagged?limit=500", headers=tokens.manager())
    (item,) = [i for i in flagged.json()["data"] if i["id"] == str(stored.item_id)]
    assert item["flagged_reason"] == "its entry task's lease expired 3 times"
    requeued = await intake.post(f"/v1/items/{item['id']}/requeue", headers=tokens.manager())
    assert requeued.json()["flagged_reason"] is None
    (fresh,) = await _claim(intake, keyer)
    assert fresh["item_id"] == item["id"]
    expired = [
        e
        for e in await outbox_envelopes(intake_db, stored.job_id)
        if e.type == "bpo.intake.task.expired"
    ]
    assert [(e.data["attempts"], e.data["requeued"]) for e in expired] == [
        (1, True),
        (2, True),
        (3, False),
    ]


async def test_review_goes_only_to_qc_keyers_who_did_not_key_the_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await _job(intake, tokens, 1)
    keyer_id, keyer = await _contractor(intake, tokens, "qc")
    _, plain = await _contractor(intake, tokens)
    _, reviewer = await _contractor(intake, tokens, "qc")
    (task,) = await _claim(intake, keyer)
    data = {"invoice_number": "INV-9", "total": "10"}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)

    async with intake_db() as session, session.begin():
        await decisions.require_review(
            session,
            validation.ReviewRequired(
                item_id=UUID(task["item_id"]),
                job_id=UUID(job["id"]),
                client_id=UUID(job["client_id"]),
                kind="review",
                entries=[Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)],
                reason="sampled for review",
                decided_at=datetime.now(UTC),
            ),
        )

    def reviews(claimed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for t in claimed if t["item_id"] == task["item_id"]]

    assert reviews(await _claim(intake, keyer, limit=50, kinds=["review"])) == []
    assert reviews(await _claim(intake, plain, limit=50, kinds=["review"])) == []
    (review,) = reviews(await _claim(intake, reviewer, limit=50, kinds=["review"]))
    assert review["kind"] == "review"
    assert review["entries"] == [
        {"task_id": task["id"], "contractor_id": str(keyer_id), "data": data}
    ]
    async with intake_db() as session:
        item = await session.get(Item, UUID(task["item_id"]))
        assert item is not None
        assert item.status is ItemStatus.IN_REVIEW

    rejected = await intake.post(
        f"/v1/tasks/{review['id']}/submit",
        json={"reject": "the scan is unreadable"},
        headers=reviewer,
    )
    assert rejected.status_code == 202, rejected.text
    (submitted,) = [
        e
        for e in await outbox_envelopes(intake_db, UUID(review["job_id"]))
        if e.type == "bpo.intake.task.submitted" and e.data["task_id"] == review["id"]
    ]
    assert (submitted.data["rejection"], submitted.data["data"]) == ("the scan is unreadable", {})


async def test_only_a_review_may_reject_an_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    await _job(intake, tokens, 1)
    _, keyer = await _contractor(intake, tokens)
    (task,) = await _claim(intake, keyer)
    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"reject": "unreadable"}, headers=keyer
    )
    assert error_fields(assert_problem(response, 422)) == ["reject"]
    async with intake_db() as session:
        stored = await session.get(Task, UUID(task["id"]))
        assert stored is not None
        assert stored.status is TaskStatus.LEASED


async def test_decisions_finish_items_and_a_closed_job_completes_with_its_last_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await _job(intake, tokens, 2)
    client = tokens.client(UUID(job["client_id"]))
    hook = await intake.put(
        f"/v1/clients/{job['client_id']}/webhook",
        json={"webhook_url": "https://hooks.acme.example/bpo"},
        headers=tokens.manager(),
    )
    assert hook.status_code == 200, hook.text
    async with intake_db() as session:
        item_ids = list(
            await session.scalars(select(Item.id).where(Item.job_id == UUID(job["id"])))
        )
    closed = await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)
    assert closed.json()["status"] == "closed"
    now = datetime.now(UTC)
    common = {"job_id": UUID(job["id"]), "client_id": UUID(job["client_id"]), "decided_at": now}

    async with intake_db() as session, session.begin():
        await decisions.accept_item(
            session,
            validation.ItemAccepted(item_id=item_ids[0], result={"total": "5"}, **common),
        )
    assert (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()["status"] == "closed"
    async with intake_db() as session, session.begin():
        await decisions.reject_item(
            session,
            validation.ItemRejected(item_id=item_ids[1], reason="illegible scan", **common),
        )

    final = (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()
    assert final["status"] == "completed"
    assert final["counts"] | {"total": 2} == {
        "pending": 0,
        "in_progress": 0,
        "in_review": 0,
        "completed": 1,
        "rejected": 1,
        "total": 2,
    }
    assert final["progress"] == 1.0
    deliveries = await intake.get("/v1/webhooks/deliveries", headers=client)
    told = sorted(
        (d["event_type"], d["payload"]["data"].get("item_id")) for d in deliveries.json()["data"]
    )
    assert told == [("item.rejected", str(item_ids[1])), ("job.completed", None)]
    types = [e.type for e in await outbox_envelopes(intake_db, UUID(job["id"]))]
    assert types[-4:] == [
        "bpo.intake.job.closed",
        "bpo.intake.item.completed",
        "bpo.intake.item.rejected",
        "bpo.intake.job.completed",
    ]


async def test_cancelling_a_job_withdraws_its_queued_tasks(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await _job(intake, tokens, 3)
    client = tokens.client(UUID(job["client_id"]))
    cancelled = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)
    assert cancelled.json()["status"] == "cancelled"
    _, keyer = await _contractor(intake, tokens)
    assert job["id"] not in {t["job_id"] for t in await _claim(intake, keyer, limit=50)}
    again = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)
    assert "already cancelled" in assert_problem(again, 409)["detail"]


async def test_fifty_keyers_racing_for_a_thousand_tasks_lease_each_exactly_once(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await _job(intake, tokens, 1000, due_at=_past(-365))
    keyers = [(await _contractor(intake, tokens))[1] for _ in range(50)]
    statuses: list[int] = []

    async def keep_claiming(headers: dict[str, str]) -> list[str]:
        mine: list[str] = []
        while True:
            response = await intake.post("/v1/tasks/claim", json={"limit": 5}, headers=headers)
            statuses.append(response.status_code)
            claimed = [t for t in response.json()["tasks"] if t["job_id"] == job["id"]]
            if not claimed:
                return mine
            mine.extend(task["id"] for task in claimed)

    leased = [task for batch in await asyncio.gather(*map(keep_claiming, keyers)) for task in batch]

    assert set(statuses) == {200}
    assert len(leased) == 1000
    assert len(set(leased)) == 1000


async def test_adaptive_jobs_get_a_second_keying_from_someone_else_when_validation_asks(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await _job(intake, tokens, 1, qc={"mode": "adaptive"}, due_at=_past(-300))
    _, first = await _contractor(intake, tokens)
    _, second = await _contractor(intake, tokens)
    data = {"data": {"invoice_number": "A", "total": "1"}}
    (task,) = await _claim(intake, first)
    assert task["job_id"] == job["id"]
    await intake.post(f"/v1/tasks/{task['id']}/submit", json=data, headers=first)

    async with intake_db() as session, session.begin():
        await decisions.require_second_keying(
            session,
            validation.SecondKeyingRequired(
                item_id=UUID(task["item_id"]),
                job_id=UUID(job["id"]),
                client_id=UUID(job["client_id"]),
                reason="the keyer has 0 judged fields on invoice, too few to trust",
                decided_at=datetime.now(UTC),
            ),
        )

    assert task["item_id"] not in {t["item_id"] for t in await _claim(intake, first, limit=50)}
    (again,) = [
        t for t in await _claim(intake, second, limit=50) if t["item_id"] == task["item_id"]
    ]
    await intake.post(f"/v1/tasks/{again['id']}/submit", json=data, headers=second)
    submitted = [
        e.data["entries_expected"]
        for e in await outbox_envelopes(intake_db, UUID(job["id"]))
        if e.type == "bpo.intake.task.submitted"
    ]
    assert submitted == [1, 2]
