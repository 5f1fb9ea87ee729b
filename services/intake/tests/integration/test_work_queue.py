"""Contractors claim the most urgent work they are allowed to do, each task once."""

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

import httpx
from sqlalchemy import select, text

from bpo_common.contracts.validation import ContractorSuspended
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields, eventually, waits_for_lock
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task
from bpo_intake.service import decisions

from .keying import claim_tasks, keying_job, lease_a_task, new_contractor, past, stored_task


async def test_claim_leases_the_most_urgent_task_with_what_the_keyer_needs(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    later = await keying_job(intake, tokens, 1, due_at=past(2), priority=100)
    sooner_low = await keying_job(intake, tokens, 1, due_at=past(1), priority=10)
    sooner_high = await keying_job(intake, tokens, 1, due_at=past(1), priority=90)
    _, keyer = await new_contractor(intake, tokens)
    ours = {later["id"], sooner_low["id"], sooner_high["id"]}

    # The stack's queue may hold older tasks of other tests (a lease expired): ours, in order.
    claimed = [t for t in await claim_tasks(intake, keyer, limit=50) if t["job_id"] in ours]
    for job in (later, sooner_low, sooner_high):  # so that no later run finds them queued
        client = tokens.client(UUID(job["client_id"]))
        assert (await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)).is_success

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
    urgent = await keying_job(intake, tokens, 2)
    later = await keying_job(intake, tokens, 2, due_at=past(1))
    _, keyer = await new_contractor(intake, tokens)
    claimed = await claim_tasks(intake, keyer, limit=5, job_id=later["id"])
    assert [task["job_id"] for task in claimed] == [later["id"], later["id"]]
    assert urgent["id"] not in {task["job_id"] for task in claimed}


async def test_a_keyer_never_gets_both_keyings_of_an_item(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await keying_job(intake, tokens, 3, qc={"mode": "double"})
    _, first = await new_contractor(intake, tokens)
    _, second = await new_contractor(intake, tokens)

    mine = [t for t in await claim_tasks(intake, first, limit=10) if t["job_id"] == job["id"]]
    assert len(mine) == 3
    assert len({task["item_id"] for task in mine}) == 3
    assert [t for t in await claim_tasks(intake, first, limit=10) if t["job_id"] == job["id"]] == []
    theirs = [t for t in await claim_tasks(intake, second, limit=10) if t["job_id"] == job["id"]]
    assert {t["item_id"] for t in theirs} == {t["item_id"] for t in mine}
    assert not {t["id"] for t in theirs} & {t["id"] for t in mine}


async def test_tasks_go_only_to_keyers_with_the_required_skills(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    skill = f"medical-{new_id().hex[:8]}"
    job = await keying_job(intake, tokens, 1, required_skills=[skill])
    _, unskilled = await new_contractor(intake, tokens)
    _, skilled = await new_contractor(intake, tokens, skill)

    assert job["id"] not in {t["job_id"] for t in await claim_tasks(intake, unskilled, limit=50)}
    assert [t["job_id"] for t in await claim_tasks(intake, skilled)] == [job["id"]]


async def test_a_suspended_keyer_gets_no_work_and_is_told_why(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    contractor_id, keyer = await new_contractor(intake, tokens)
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


async def test_cancelling_a_job_withdraws_its_queued_tasks(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await keying_job(intake, tokens, 3)
    client = tokens.client(UUID(job["client_id"]))
    cancelled = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)
    assert cancelled.json()["status"] == "cancelled"
    _, keyer = await new_contractor(intake, tokens)
    assert job["id"] not in {t["job_id"] for t in await claim_tasks(intake, keyer, limit=50)}
    again = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)
    assert "already cancelled" in assert_problem(again, 409)["detail"]


async def test_closing_and_cancelling_take_an_idempotency_key(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await keying_job(intake, tokens, 1)
    client = tokens.client(UUID(job["client_id"]))
    for action, status in (("close", "closed"), ("cancel", "cancelled")):
        retried = {**client, "Idempotency-Key": f"{action}-{new_id()}"}
        first = await intake.post(f"/v1/jobs/{job['id']}/{action}", headers=retried)
        assert (first.status_code, first.json()["status"]) == (200, status)
        # The same request again (a retry after a lost answer) gets the same answer, not a 409.
        replayed = await intake.post(f"/v1/jobs/{job['id']}/{action}", headers=retried)
        assert (replayed.status_code, replayed.json()) == (200, first.json())
    unkeyed = await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)
    assert assert_problem(unkeyed, 409)["detail"].endswith("this one is cancelled")


async def test_fifty_keyers_racing_for_a_thousand_tasks_lease_each_exactly_once(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await keying_job(intake, tokens, 1000, due_at=past(-365))
    keyers = [(await new_contractor(intake, tokens))[1] for _ in range(50)]
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


async def test_what_a_suspended_contractor_holds_goes_back_to_the_queue_at_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Suspended by a manager, or by validation's quality floor (its event)."""
    by_manager, by_floor = [await lease_a_task(intake, tokens) for _ in range(2)]
    before = {
        lease.task["id"]: (await stored_task(intake_db, lease.task["id"])).attempts
        for lease in (by_manager, by_floor)
    }

    suspended = await intake.post(
        f"/v1/contractors/{by_manager.keyer_id}/suspend",
        json={"reason": "left the project"},
        headers=tokens.manager(),
    )
    assert suspended.status_code == 200, suspended.text
    floor = ContractorSuspended(
        contractor_id=by_floor.keyer_id, reason="accuracy 80%", suspended_at=datetime.now(UTC)
    )
    async with intake_db() as session, session.begin():
        await decisions.suspend_contractor(session, floor)

    for lease in (by_manager, by_floor):
        task = await stored_task(intake_db, lease.task["id"])
        assert (task.status, task.contractor_id) == (TaskStatus.QUEUED, None)
        assert task.attempts == before[lease.task["id"]], "not counted an expiry"


async def test_a_suspension_made_before_a_managers_reactivation_and_read_after_it_is_void(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Validation's reactivation clears a suspension it made earlier: intake, reading that
    suspension late, keeps the contractor at work as validation has them."""
    contractor_id, keyer = await new_contractor(intake, tokens)
    url = f"/v1/contractors/{contractor_id}"
    await intake.post(f"{url}/suspend", json={"reason": "spot check"}, headers=tokens.manager())
    suspended_at = datetime.now(UTC)  # by validation, as intake's consumer lags behind
    activated = await intake.post(f"{url}/activate", headers=tokens.manager())
    assert activated.json()["status"] == "active", activated.text

    async def status_after(suspension: datetime) -> tuple[str, str | None]:
        """The contractor's status once intake read validation's suspension made then."""
        decision = ContractorSuspended(
            contractor_id=contractor_id, reason="accuracy 80%", suspended_at=suspension
        )
        async with intake_db() as session, session.begin():
            await decisions.suspend_contractor(session, decision)
        shown = (await intake.get(url, headers=tokens.manager())).json()
        return shown["status"], shown["status_reason"]

    assert await status_after(suspended_at) == ("active", None)
    assert (await intake.post("/v1/tasks/claim", json={}, headers=keyer)).status_code == 200
    assert await status_after(datetime.now(UTC)) == ("suspended", "accuracy 80%")


async def test_a_managers_suspension_keeps_its_reason_when_validation_suspends_too(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    contractor_id, _ = await new_contractor(intake, tokens)
    url = f"/v1/contractors/{contractor_id}"
    reason = {"reason": "identity check pending: do not reactivate before HR clears it"}
    suspended = await intake.post(f"{url}/suspend", json=reason, headers=tokens.manager())
    assert suspended.status_code == 200, suspended.text

    floor = ContractorSuspended(
        contractor_id=contractor_id, reason="accuracy 80%", suspended_at=datetime.now(UTC)
    )
    async with intake_db() as session, session.begin():
        await decisions.suspend_contractor(session, floor)

    shown = (await intake.get(url, headers=tokens.manager())).json()
    assert (shown["status"], shown["status_reason"]) == ("suspended", reason["reason"])


async def test_a_contractors_claims_run_one_at_a_time(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Two claims at once by one contractor could each lease one keying of the same item (a
    claim asks whether its contractor holds the item's other task as its statement starts):
    the second waits for the first, then sees what it leased."""
    job = await keying_job(intake, tokens, 1, qc={"mode": "double"}, due_at=past(-400))
    contractor_id, keyer = await new_contractor(intake, tokens)
    lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
    async with intake_db() as session, session.begin():
        # As a claim under way: its lock, and one keying of the item leased to the contractor.
        await session.execute(lock, {"key": f"claim:{contractor_id}"})
        first = (
            (await session.execute(select(Task).where(Task.job_id == UUID(job["id"]))))
            .scalars()
            .first()
        )
        assert first is not None
        first.status, first.contractor_id = TaskStatus.LEASED, contractor_id
        first.lease_expires_at = datetime.now(UTC) + timedelta(minutes=5)
        claim = asyncio.create_task(claim_tasks(intake, keyer, job_id=job["id"]))
        await eventually(
            partial(waits_for_lock, intake_db, f"claim:{contractor_id}"),
            timeout_s=10,
            what="the claim waiting for the one under way",
        )
    assert await claim == [], "not the item's other keying: the contractor holds the first"


async def test_a_suspension_during_a_claim_gives_back_what_the_claim_leased(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    # A skill of its own: no other test's keyer takes its task, queued again at the end.
    skill = f"spot-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 1, due_at=past(-400), required_skills=[skill])
    contractor_id, _ = await new_contractor(intake, tokens, skill)
    lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
    async with intake_db() as session, session.begin():
        # As a claim under way that saw the contractor active: its lock, and its lease.
        await session.execute(lock, {"key": f"claim:{contractor_id}"})
        (task,) = (
            await session.execute(select(Task).where(Task.job_id == UUID(job["id"])))
        ).scalars()
        task.status, task.contractor_id = TaskStatus.LEASED, contractor_id
        task.lease_expires_at = datetime.now(UTC) + timedelta(minutes=5)
        await session.flush()
        suspension = asyncio.create_task(
            intake.post(
                f"/v1/contractors/{contractor_id}/suspend",
                json={"reason": "spot check"},
                headers=tokens.manager(),
            )
        )
        await eventually(
            partial(waits_for_lock, intake_db, f"claim:{contractor_id}"),
            timeout_s=10,
            what="the suspension waiting for the claim under way",
        )
    assert (await suspension).status_code == 200
    assert (await stored_task(intake_db, str(task.id))).status is TaskStatus.QUEUED


async def test_a_manager_sets_a_contractors_skills_and_the_work_that_needs_them_follows(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    # As long as a work type's name may be: a qualification grants that name as a skill.
    skill = f"invoices.eu-vat-reclaim.{new_id().hex}".ljust(100, "x")
    job = await keying_job(intake, tokens, 1, required_skills=[skill], due_at=past(-400))
    contractor_id, keyer = await new_contractor(intake, tokens, "old-skill")
    assert await claim_tasks(intake, keyer, job_id=job["id"]) == []
    url = f"/v1/contractors/{contractor_id}/skills"

    for refused, status, field in (
        ({"skills": ["Not A Skill"]}, 422, "skills[0]"),
        ({"skills": ["qc", skill + "x"]}, 422, "skills[1]"),
        ({"skills": ["x"] * 101}, 422, "skills"),
    ):
        answer = await intake.put(url, json=refused, headers=tokens.manager())
        assert error_fields(assert_problem(answer, status)) == [field]
    elsewhere = await intake.put(
        f"/v1/contractors/{new_id()}/skills", json={"skills": []}, headers=tokens.manager()
    )
    assert assert_problem(elsewhere, 404)["detail"].startswith("no contractor")
    client = await intake.put(url, json={"skills": [skill]}, headers=tokens.client(new_id()))
    assert_problem(client, 403)

    given = await intake.put(
        url, json={"skills": [skill, "qc", skill, "-night"]}, headers=tokens.manager()
    )
    assert given.status_code == 200, given.text
    # (A skill may begin with '-', '_' or '.', as skills always could.)
    assert given.json()["skills"] == sorted([skill, "qc", "-night"]), "the old one is taken away"
    shown = await intake.get(f"/v1/contractors/{contractor_id}", headers=tokens.manager())
    assert shown.json()["skills"] == sorted([skill, "qc", "-night"])
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert task["job_id"] == job["id"]
