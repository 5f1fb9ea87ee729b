"""A claim sent again with its Idempotency-Key, its answer lost, gives the tasks the first one
leased, and leases nothing more."""

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

import httpx
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.tables import idempotency_key
from bpo_devtools.testing import Tokens, assert_problem, error_fields, eventually, waits_for_lock
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task

from .keying import keying_job, new_contractor, past


async def _leased_to(sessions: SessionFactory, job_id: str, contractor_id: UUID) -> list[UUID]:
    """The job's tasks leased to the contractor."""
    async with sessions() as session:
        query = select(Task.id).where(
            Task.job_id == UUID(job_id),
            Task.status == TaskStatus.LEASED,
            Task.contractor_id == contractor_id,
        )
        return list(await session.scalars(query))


async def test_a_claim_again_with_its_key_gives_the_same_task_and_leases_no_other(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    # A skill of its own: no other test's keyer takes its tasks.
    skill = f"retry-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 2, due_at=past(-400), required_skills=[skill])
    contractor_id, keyer = await new_contractor(intake, tokens, skill)
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"limit": 1, "job_id": job["id"]}

    first = await intake.post("/v1/tasks/claim", json=body, headers=keyed)
    assert first.status_code == 200, first.text
    (task,) = first.json()["tasks"]
    again = await intake.post("/v1/tasks/claim", json=body, headers=keyed)

    assert (again.status_code, again.json()) == (200, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _leased_to(intake_db, job["id"], contractor_id) == [UUID(task["id"])]
    # Another body with the key is refused, naming it; nothing is leased.
    other = await intake.post("/v1/tasks/claim", json={**body, "limit": 2}, headers=keyed)
    assert "Idempotency-Key" in error_fields(assert_problem(other, 422))
    assert await _leased_to(intake_db, job["id"], contractor_id) == [UUID(task["id"])]
    # Without a key, each claim is a new one.
    unkeyed = await intake.post("/v1/tasks/claim", json=body, headers=keyer)
    (second,) = unkeyed.json()["tasks"]
    assert second["id"] != task["id"]
    assert sorted(await _leased_to(intake_db, job["id"], contractor_id)) == sorted(
        [UUID(task["id"]), UUID(second["id"])]
    )


async def test_a_claim_whose_key_another_answered_meanwhile_gives_back_what_it_leased(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Sent again while the first was still under way (a gateway gave up on it), a claim finds
    nothing stored under its key and leases a task too: the first stores its answer before
    it lets go of the contractor's claims lock, which the second then finds, and answers."""
    skill = f"retry-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 2, due_at=past(-400), required_skills=[skill])
    contractor_id, keyer = await new_contractor(intake, tokens, skill)
    key = f"claim-{new_id()}"
    body = json.dumps({"limit": 1, "job_id": job["id"]}).encode()
    lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
    async with intake_db() as session, session.begin():
        # As the first claim under way: its lock, and its lease.
        await session.execute(lock, {"key": f"claim:{contractor_id}"})
        first = (
            (await session.execute(select(Task).where(Task.job_id == UUID(job["id"]))))
            .scalars()
            .first()
        )
        assert first is not None
        first.status, first.contractor_id = TaskStatus.LEASED, contractor_id
        first.lease_expires_at = datetime.now(UTC) + timedelta(minutes=5)
        headers = {**keyer, "Idempotency-Key": key, "Content-Type": "application/json"}
        again = asyncio.create_task(intake.post("/v1/tasks/claim", content=body, headers=headers))
        await eventually(
            partial(waits_for_lock, intake_db, f"claim:{contractor_id}"),
            timeout_s=10,
            what="the claim again waiting for the one under way",
        )
        # The first one's answer, stored before its transaction ends.
        answer = {"tasks": [{"id": str(first.id)}]}
        digest = hashlib.sha256(b"POST /v1/tasks/claim\n" + body).hexdigest()
        await session.execute(
            insert(idempotency_key).values(
                principal=f"contractor:{contractor_id}",
                key=key,
                request_hash=digest,
                status_code=200,
                response_body=answer,
                created_at=datetime.now(UTC),
            )
        )

    replayed = await again
    assert (replayed.status_code, replayed.json()) == (200, answer)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await _leased_to(intake_db, job["id"], contractor_id) == [first.id]
    async with intake_db() as session:
        statuses = await session.scalars(select(Task.status).where(Task.job_id == UUID(job["id"])))
        assert sorted(statuses) == sorted([TaskStatus.LEASED, TaskStatus.QUEUED])
