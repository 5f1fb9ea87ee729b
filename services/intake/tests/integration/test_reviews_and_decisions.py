"""Validation's decisions as the consumer applies them: reviews, second keyings, final items."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.contracts.intake import Entry
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    outbox_events,
)
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item
from bpo_intake.service import decisions

from .conftest import opened_events
from .keying import claim_tasks, keying_job, lease_a_task, new_contractor, past


async def decide(
    sessions: SessionFactory, keys: DataKeys, decision: decisions.ItemDecision
) -> None:
    """Apply validation's decision as the consumer does, in a transaction of its own."""
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [decision], keys)


def about(job: dict[str, Any], item_id: UUID) -> dict[str, Any]:
    """The ids a decision about one of the job's items carries."""
    return {"item_id": item_id, "job_id": UUID(job["id"]), "client_id": UUID(job["client_id"])}


async def test_review_goes_only_to_qc_keyers_who_did_not_key_the_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, keyer_id, keyer, task = await lease_a_task(intake, tokens, "qc")
    _, plain = await new_contractor(intake, tokens)
    _, reviewer = await new_contractor(intake, tokens, "qc")
    data = {"invoice_number": "INV-9", "total": "10"}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)

    await decide(
        intake_db,
        data_keys,
        validation.ReviewRequired(
            **about(job, UUID(task["item_id"])),
            kind="review",
            entries=[Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)],
            reason="sampled for review",
            decided_at=datetime.now(UTC),
        ),
    )

    def reviews(claimed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for t in claimed if t["item_id"] == task["item_id"]]

    assert reviews(await claim_tasks(intake, keyer, limit=50, kinds=["review"])) == []
    assert reviews(await claim_tasks(intake, plain, limit=50, kinds=["review"])) == []
    (review,) = reviews(await claim_tasks(intake, reviewer, limit=50, kinds=["review"]))
    assert review["kind"] == "review"
    assert review["entries"] == [
        {"task_id": task["id"], "kind": "entry", "contractor_id": str(keyer_id), "data": data,
         "unreadable": None}
    ]  # fmt: skip
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
        for e in await opened_events(intake_db, data_keys, job_id=review["job_id"])
        if e.type == "bpo.intake.task.submitted" and e.data["task_id"] == review["id"]
    ]
    assert (submitted.data["rejection"], submitted.data["data"]) == ("the scan is unreadable", {})


async def test_decisions_finish_items_and_a_closed_job_completes_with_its_last_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job = await keying_job(intake, tokens, 2)
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

    await decide(
        intake_db,
        data_keys,
        validation.ItemAccepted(**about(job, item_ids[0]), result={"total": "5"}, decided_at=now),
    )
    assert (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()["status"] == "closed"
    await decide(
        intake_db,
        data_keys,
        validation.ItemRejected(**about(job, item_ids[1]), reason="illegible scan", decided_at=now),
    )

    final = (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()
    assert final["status"] == "completed"
    assert final["counts"] | {"total": 2} == {
        "pending": 0,
        "in_progress": 0,
        "in_review": 0,
        "exception": 0,
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
    events = await outbox_events(intake_db, job_id=job["id"])
    assert [e.type for e in events][-4:] == [
        "bpo.intake.job.closed",
        "bpo.intake.item.completed",
        "bpo.intake.item.rejected",
        "bpo.intake.job.completed",
    ]
    assert events[-2].data["erased"] is False, "a rejection of the work, not an erasure"


async def test_adaptive_jobs_get_a_second_keying_from_someone_else_when_validation_asks(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, _, first, task = await lease_a_task(
        intake, tokens, qc={"mode": "adaptive"}, due_at=past(-300)
    )
    _, second = await new_contractor(intake, tokens)
    data = {"data": {"invoice_number": "A", "total": "1"}}
    assert task["job_id"] == job["id"]
    await intake.post(f"/v1/tasks/{task['id']}/submit", json=data, headers=first)

    await decide(
        intake_db,
        data_keys,
        validation.SecondKeyingRequired(
            **about(job, UUID(task["item_id"])),
            reason="the keyer has 0 judged fields on invoice, too few to trust",
            decided_at=datetime.now(UTC),
        ),
    )

    assert task["item_id"] not in {t["item_id"] for t in await claim_tasks(intake, first, limit=50)}
    (again,) = [
        t for t in await claim_tasks(intake, second, limit=50) if t["item_id"] == task["item_id"]
    ]
    await intake.post(f"/v1/tasks/{again['id']}/submit", json=data, headers=second)
    submitted = [
        e.data["entries_expected"]
        for e in await outbox_events(intake_db, job_id=job["id"])
        if e.type == "bpo.intake.task.submitted"
    ]
    assert submitted == [1, 2]


async def test_a_partial_second_keying_shows_requires_and_takes_only_the_fields_named(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, _, first, task = await lease_a_task(
        intake, tokens, qc={"mode": "adaptive"}, due_at=past(-299)
    )
    keyed = {"invoice_number": "A-1", "total": "1", "iban": None}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": keyed}, headers=first)
    only_total = {"reason": "keyed again: only total", "fields": ["total"]}
    about_item = about(job, UUID(task["item_id"])) | {"decided_at": datetime.now(UTC)}
    await decide(intake_db, data_keys, validation.SecondKeyingRequired(**about_item, **only_total))

    _, second = await new_contractor(intake, tokens)
    (again,) = [
        t for t in await claim_tasks(intake, second, limit=50) if t["item_id"] == task["item_id"]
    ]
    assert again["keyed_fields"] == ["total"]
    assert again["fields"] == [spec for spec in task["fields"] if spec["name"] == "total"]
    assert (again["source"], again["rules"]) == (task["source"], task["rules"])
    assert task["keyed_fields"] is None, "a first keying keys every field"
    path = f"/v1/tasks/{again['id']}"
    draft = await intake.post(
        f"{path}/check", json={"data": {"invoice_number": "A"}}, headers=second
    )
    assert draft.json()["errors"] == [
        {"field": "invoice_number", "message": "not one of the fields this second keying keys"}
    ]
    # The invoice number is required of a whole keying, not of this one.
    empty = await intake.post(f"{path}/submit", json={"data": {}}, headers=second)
    assert (empty.status_code, empty.json()["errors"]) == (
        422,
        [{"field": "total", "message": "required"}],
    )
    done = await intake.post(f"{path}/submit", json={"data": {"total": "1.00"}}, headers=second)
    assert (done.status_code, done.json()["data"]) == (202, {"total": "1"})

    (told,) = [
        e.data
        for e in await opened_events(intake_db, data_keys, job_id=job["id"])
        if e.type == "bpo.intake.task.submitted" and e.data["task_id"] == again["id"]
    ]
    assert (told["data"], told["keyed_fields"], told["fields_keyed"]) == (
        {"total": "1"},
        ["total"],
        1,
    )
    assert told["entries_expected"] == 2


async def test_a_run_of_decisions_applies_each_once_in_order_and_completes_the_job_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job = await keying_job(intake, tokens, 3, due_at=None)  # its tasks queue behind others'
    client = tokens.client(UUID(job["client_id"]))
    async with intake_db() as session:
        first, second, third = await session.scalars(
            select(Item.id).where(Item.job_id == UUID(job["id"])).order_by(Item.id)
        )
    await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)
    now = datetime.now(UTC)

    def accepted(item_id: UUID, total: str) -> validation.ItemAccepted:
        return validation.ItemAccepted(
            **about(job, item_id), result={"total": total}, decided_at=now
        )

    async with intake_db() as session, session.begin():
        await decisions.decide_items(
            session,
            [
                accepted(third, "3"),
                accepted(first, "1"),
                accepted(third, "33"),
                accepted(second, "2"),
            ],
            data_keys,
        )

    async with intake_db() as session:
        results = {
            item.id: (item.status, item.result)
            for item in await session.scalars(select(Item).where(Item.job_id == UUID(job["id"])))
        }
    assert results == {
        first: (ItemStatus.COMPLETED, {"total": "1"}),
        second: (ItemStatus.COMPLETED, {"total": "2"}),
        third: (ItemStatus.COMPLETED, {"total": "3"}),
    }
    told = [
        (e.type, e.data.get("item_id")) for e in await outbox_events(intake_db, job_id=job["id"])
    ]
    assert told[-4:] == [
        ("bpo.intake.item.completed", str(third)),
        ("bpo.intake.item.completed", str(first)),
        ("bpo.intake.item.completed", str(second)),
        ("bpo.intake.job.completed", None),
    ]
    final = (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()
    assert (final["status"], final["counts"]["completed"]) == ("completed", 3)


async def test_no_task_of_a_cancelled_job_is_created_after_the_cancel(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, keyer_id, keyer, task = await lease_a_task(intake, tokens, "qc")
    data = {"invoice_number": "INV-10", "total": "10"}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)
    client = tokens.client(UUID(job["client_id"]))
    assert (await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)).status_code == 200

    # Validation's decisions about keyings submitted before the cancel arrive after it.
    item_id, now = UUID(task["item_id"]), datetime.now(UTC)
    entry = Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)
    await decide(
        intake_db,
        data_keys,
        validation.ReviewRequired(
            **about(job, item_id), kind="adjudication", entries=[entry], reason="differ",
            decided_at=now,
        ),
    )  # fmt: skip
    await decide(
        intake_db,
        data_keys,
        validation.SecondKeyingRequired(**about(job, item_id), reason="unproven", decided_at=now),
    )

    _, reviewer = await new_contractor(intake, tokens, "qc")
    for kinds in (["review", "adjudication"], ["entry"]):
        claimed = await claim_tasks(intake, reviewer, limit=50, kinds=kinds)
        assert job["id"] not in {t["job_id"] for t in claimed}


async def test_a_claim_of_several_kinds_leases_them_in_the_queues_order(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    # Each kind asked for is walked on its own (repository.claims): what the walks find is
    # leased in the queue's order across kinds. Deadlines ahead of every other test's tasks.
    jobs: dict[str, dict[str, Any]] = {}
    for kind, days in (("review", -1000), ("entry", -999), ("adjudication", -998)):
        jobs[kind] = job = await keying_job(intake, tokens, 1, due_at=past(days))
        if kind == "entry":
            continue
        keyer_id, keyer = await new_contractor(intake, tokens)
        (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
        data = {"invoice_number": "INV-11", "total": "10"}
        await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)
        entry = Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)
        await decide(
            intake_db,
            data_keys,
            validation.ReviewRequired(
                **about(job, UUID(task["item_id"])), kind=kind, entries=[entry],
                reason="sampled for review", decided_at=datetime.now(UTC),
            ),
        )  # fmt: skip
    _, reviewer = await new_contractor(intake, tokens, "qc")

    claimed = await claim_tasks(intake, reviewer, limit=3)
    for job in jobs.values():  # so that no later run finds them queued
        client = tokens.client(UUID(job["client_id"]))
        assert (await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)).is_success

    assert [(task["kind"], task["job_id"]) for task in claimed] == [
        (kind, jobs[kind]["id"]) for kind in ("review", "entry", "adjudication")
    ]


async def test_a_job_closed_after_its_items_were_final_completed_when_its_last_one_did(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    # Its due time judges the work: a close that comes later (or a decision read late) is no
    # part of it. (A skill of its own: no other test's keyer takes its tasks, left queued.)
    job = await keying_job(intake, tokens, 2, required_skills=[f"late-{new_id().hex[-8:]}"])
    client = tokens.client(UUID(job["client_id"]))
    async with intake_db() as session:
        first, last = await session.scalars(select(Item.id).where(Item.job_id == UUID(job["id"])))
    done = datetime(2026, 3, 2, 11, 50, tzinfo=UTC)
    for item_id, at in ((first, done - timedelta(hours=1)), (last, done)):
        accepted = validation.ItemAccepted(
            **about(job, item_id), result={"total": "5"}, decided_at=at
        )
        await decide(intake_db, data_keys, accepted)

    assert (await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)).is_success
    shown = (await intake.get(f"/v1/jobs/{job['id']}", headers=client)).json()
    assert (shown["status"], shown["completed_at"]) == ("completed", "2026-03-02T11:50:00Z")
    (completed,) = await outbox_events(intake_db, "bpo.intake.job.completed", job_id=job["id"])
    assert completed.data["completed_at"] == "2026-03-02T11:50:00Z"
