"""A claim sent again with its Idempotency-Key, its answer lost, gives the tasks the first one
leased that the contractor still holds, shown as the first showed them, and leases nothing
more; the key keeps the tasks' ids only, never a value the answer opened."""

import asyncio
import json
from datetime import timedelta
from functools import partial
from random import Random
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.crypto import DataKeys, KeyUnavailable, LocalKeyRing, new_kek
from bpo_common.db import SessionFactory
from bpo_common.errors import Unavailable
from bpo_common.idempotency import RequestKey
from bpo_common.ids import new_id
from bpo_common.pruning import Pruner
from bpo_devtools.testing import (
    TestStack,
    Tokens,
    assert_problem,
    error_fields,
    eventually,
    tables_holding,
    waits_for_lock,
)
from bpo_intake.domain.links import PageLinks
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task
from bpo_intake.repository import claims
from bpo_intake.repository.claim_keys import BEING_MADE_FOR, CLAIM_KEY
from bpo_intake.schemas import ClaimRequest
from bpo_intake.service import tasks
from bpo_intake.service.claim_keys import Claimed
from bpo_intake.settings import Settings
from bpo_intake.workers import workers

from .keying import keying_job, new_contractor, past

CLAIM = "/v1/tasks/claim"


async def _keyer_and_job(
    intake: httpx.AsyncClient, tokens: Tokens, items: int, **job: Any
) -> tuple[UUID, dict[str, str], dict[str, Any]]:
    """A new keyer, and a job of `items` that only they may key (a skill of its own)."""
    skill = f"retry-{new_id().hex[-8:]}"
    created = await keying_job(intake, tokens, items, required_skills=[skill], **job)
    keyer_id, keyer = await new_contractor(intake, tokens, skill)
    return keyer_id, keyer, created


async def _leased_to(sessions: SessionFactory, contractor_id: UUID) -> set[str]:
    """The tasks leased to the contractor, in the database."""
    async with sessions() as session:
        query = select(Task.id).where(
            Task.contractor_id == contractor_id, Task.status == TaskStatus.LEASED
        )
        return {str(task_id) for task_id in await session.scalars(query)}


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


async def test_a_claim_sent_again_with_its_key_gives_its_tasks_again_and_leases_no_more(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 4)
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"limit": 2, "job_id": job["id"]}

    first = await intake.post(CLAIM, json=body, headers=keyed)
    again = await intake.post(CLAIM, json=body, headers=keyed)

    assert len(_ids(first)) == 2
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json(), "the same tasks, shown alike"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _leased_to(intake_db, keyer_id) == set(_ids(first))
    # Another body with the key is refused, naming it, and leases nothing.
    other = await intake.post(CLAIM, json={**body, "limit": 1}, headers=keyed)
    problem = assert_problem(other, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert "different request body" in problem["detail"]
    # A key too long is refused as any other Idempotency-Key is.
    too_long = await intake.post(CLAIM, json=body, headers={**keyer, "Idempotency-Key": "k" * 256})
    assert error_fields(assert_problem(too_long, 422)) == ["Idempotency-Key"]
    assert await _leased_to(intake_db, keyer_id) == set(_ids(first))
    # Another key, or none, is another claim.
    fresh = await intake.post(CLAIM, json=body, headers={**keyer, "Idempotency-Key": "another"})
    assert set(_ids(fresh)).isdisjoint(_ids(first))
    assert len(_ids(fresh)) == 2


async def test_a_claim_sent_again_leaves_out_a_task_submitted_or_run_out_since(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 3, due_at=past(-500))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"limit": 3, "job_id": job["id"]}
    first = await intake.post(CLAIM, json=body, headers=keyed)
    submitted, ran_out, held = first.json()["tasks"]

    sent = await intake.post(
        f"/v1/tasks/{submitted['id']}/submit",
        json={"data": {"invoice_number": "INV-1", "total": "1"}},
        headers=keyer,
    )
    assert sent.status_code == 202, sent.text
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Task)
            .where(Task.id == UUID(ran_out["id"]))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await intake.post(CLAIM, json=body, headers=keyed)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {"tasks": [held]}
    assert await _leased_to(intake_db, keyer_id) == {held["id"], ran_out["id"]}, "nothing new"


async def test_a_claim_sent_again_after_a_suspension_is_refused_saying_why(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 1, due_at=past(-550))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"job_id": job["id"]}
    assert len(_ids(await intake.post(CLAIM, json=body, headers=keyed))) == 1
    reason = "keyed the wrong batch"
    suspended = await intake.post(
        f"/v1/contractors/{keyer_id}/suspend", json={"reason": reason}, headers=tokens.manager()
    )
    assert suspended.status_code == 200, suspended.text

    again = await intake.post(CLAIM, json=body, headers=keyed)

    assert reason in assert_problem(again, 403)["detail"]


async def test_two_claims_with_one_key_at_once_lease_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 3, due_at=past(-600))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"limit": 1, "job_id": job["id"]}
    lock = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
    async with intake_db() as session, session.begin():
        # As a claim of theirs under way: both wait for it, and then run one after the other.
        await session.execute(lock, {"name": f"claim:{keyer_id}"})
        both = asyncio.gather(*(intake.post(CLAIM, json=body, headers=keyed) for _ in "ab"))

        both_wait = partial(waits_for_lock, intake_db, f"claim:{keyer_id}", waiters=2)
        await eventually(both_wait, timeout_s=10, what="both claims waiting")
    first, second = await both

    assert _ids(first) == _ids(second)
    assert len(_ids(first)) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in (first, second)]
    assert set(replayed) == {"true", None}
    assert await _leased_to(intake_db, keyer_id) == set(_ids(first))


async def test_a_claims_key_keeps_its_tasks_ids_and_none_of_the_values_it_opened(
    intake: httpx.AsyncClient, tokens: Tokens, stack: TestStack
) -> None:
    holder = f"Holder {new_id().hex[-8:]}"
    _, keyer, job = await _keyer_and_job(
        intake, tokens, 1, fields=[{"name": "holder", "type": "string", "pii": True}]
    )
    appended = await intake.post(
        f"/v1/jobs/{job['id']}/items",
        content=json.dumps({"external_id": "a", "source": {"holder": holder}}),
        headers={**tokens.client(job["client_id"]), "Content-Type": "application/x-ndjson"},
    )
    assert appended.status_code == 202, appended.text
    key = f"claim-{new_id()}"
    claimed = await intake.post(
        CLAIM, json={"limit": 2, "job_id": job["id"]}, headers={**keyer, "Idempotency-Key": key}
    )
    (task,) = [task for task in claimed.json()["tasks"] if task["source"] != {"page": 0}]
    assert task["source"] == {"holder": holder}, "the answer opens the value"

    found = await tables_holding(stack, ["intake"], [holder, key, task["id"]])

    assert found.get(holder) is None, "the value is kept sealed only, in every table"
    assert ("intake", "claim_key") in found.get(key, [])
    assert ("intake", "claim_key") in found.get(task["id"], [])


async def test_a_claims_key_is_forgotten_after_the_time_keys_are_kept(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 2, due_at=past(-700))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"job_id": job["id"]}
    first = await intake.post(CLAIM, json=body, headers=keyed)
    settings = stack.settings(Settings, "intake")
    kept = timedelta(hours=settings.idempotency_keep_hours)
    async with intake_db() as session, session.begin():
        await session.execute(
            update(CLAIM_KEY)
            .where(CLAIM_KEY.c.contractor_id == keyer_id)
            .values(created_at=utcnow() - kept - timedelta(minutes=1))
        )

    # Sent again after that, it is a new claim; and the pruner deletes what the old one kept.
    later = await intake.post(CLAIM, json=body, headers=keyed)
    assert "Idempotent-Replayed" not in later.headers
    assert set(_ids(later)).isdisjoint(_ids(first))
    assert len(_ids(later)) == 1
    async with intake_db() as session, session.begin():
        await session.execute(
            update(CLAIM_KEY)
            .where(CLAIM_KEY.c.contractor_id == keyer_id)
            .values(created_at=utcnow() - kept - timedelta(minutes=1))
        )
    pruner = Pruner(
        intake_db,
        outbox_keep=timedelta(hours=settings.outbox_keep_hours),
        idempotency_keep=kept,
        keyed=workers(settings).keyed,
        batch_size=10**6,
    )
    await pruner.prune_once()
    async with intake_db() as session:
        left = select(CLAIM_KEY.c.key).where(CLAIM_KEY.c.contractor_id == keyer_id)
        assert list(await session.scalars(left)) == []


async def test_a_keyed_claim_that_fails_keeps_nothing_under_its_key(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """A claim whose answer fails after its leases (here: the job's data key, under a key ring
    that does not hold its KEK) gives them back, and its key with them: sent again, the claim
    leases afresh rather than answer that it holds nothing."""
    personal = [{"name": "holder", "type": "string", "pii": True}]
    keyer_id, _, job = await _keyer_and_job(intake, tokens, 1, fields=personal)
    request = ClaimRequest(limit=1, job_id=UUID(job["id"]))
    key = RequestKey(f"claim-{new_id()}", "0" * 64, utcnow() - timedelta(hours=1))

    async def claim(keys: DataKeys) -> Claimed:
        async with intake_db() as session, session.begin():
            return await tasks.claim(
                session, keyer_id, request, lease_seconds=300, links=PageLinks(b"k" * 32, 900),
                keys=keys, draw=Random(), key=key,
            )  # fmt: skip

    with pytest.raises(KeyUnavailable):
        await claim(DataKeys(LocalKeyRing.parse(new_kek("elsewhere"))))
    again = await claim(data_keys)

    assert (again.replayed, len(again.tasks)) == (False, 1)
    assert await _leased_to(intake_db, keyer_id) == {str(again.tasks[0].id)}


async def test_a_claim_sent_again_while_the_first_fails_is_a_503_never_its_task(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    data_keys: DataKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first claim's answer fails (a key service away) while the same claim sent again
    waits for it; its leases go back only after it has let go of the claims lock. The one
    sent again never answers with the task going back to the queue."""
    keyer_id, _, job = await _keyer_and_job(intake, tokens, 2, due_at=past(-750))
    request = ClaimRequest(limit=1, job_id=UUID(job["id"]))
    key = RequestKey(f"claim-{new_id()}", "0" * 64, utcnow() - timedelta(hours=1))
    making, fail = asyncio.Event(), asyncio.Event()
    given = tasks._given

    async def failing_once(
        session: AsyncSession, contractor_id: UUID, *args: Any, **kw: Any
    ) -> Any:
        if making.is_set():
            return await given(session, contractor_id, *args, **kw)
        # As the claim's answer is made: under the claims lock, taken again.
        await claims.wait_for_claims(session, contractor_id)
        making.set()
        await fail.wait()
        raise KeyUnavailable("the key service is away")

    monkeypatch.setattr(tasks, "_given", failing_once)

    async def claim() -> Claimed:
        async with intake_db() as session, session.begin():
            return await tasks.claim(
                session, keyer_id, request, lease_seconds=300, links=PageLinks(b"k" * 32, 900),
                keys=data_keys, draw=Random(), key=key,
            )  # fmt: skip

    first = asyncio.create_task(claim())
    await asyncio.wait_for(making.wait(), 10)
    (leased,) = await _leased_to(intake_db, keyer_id)
    again = asyncio.create_task(claim())

    waiting = partial(waits_for_lock, intake_db, f"claim:{keyer_id}")
    await eventually(waiting, timeout_s=10, what="the claim sent again waiting")
    async with intake_db() as session, session.begin():
        # The first claim's leases go back only once this lets go of its task.
        await session.execute(select(Task.id).where(Task.id == UUID(leased)).with_for_update())
        fail.set()
        (answer,) = await asyncio.wait_for(asyncio.gather(again, return_exceptions=True), 10)
    with pytest.raises(KeyUnavailable):
        await first

    assert isinstance(answer, Unavailable), f"answered {answer}, its task going back"
    assert "still being made" in answer.detail
    assert answer.headers == {"Retry-After": "1"}
    afresh = await claim()
    assert (afresh.replayed, len(afresh.tasks)) == (False, 1)
    assert await _leased_to(intake_db, keyer_id) == {str(afresh.tasks[0].id)}


async def test_a_claim_whose_answer_is_not_made_yet_is_a_503_then_answered_by_its_leases(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 2, due_at=past(-800))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"job_id": job["id"]}
    (first,) = _ids(await intake.post(CLAIM, json=body, headers=keyed))

    async def made(at: timedelta) -> None:
        """The key's claim, as one whose answer has not committed, made `at` ago."""
        async with intake_db() as session, session.begin():
            await session.execute(
                update(CLAIM_KEY)
                .where(CLAIM_KEY.c.contractor_id == keyer_id)
                .values(answered_at=None, created_at=utcnow() - at)
            )

    await made(timedelta(seconds=1))
    being_made = await intake.post(CLAIM, json=body, headers=keyed)

    problem = assert_problem(being_made, 503)
    assert "a claim with this Idempotency-Key is still being made" in problem["detail"]
    assert being_made.headers["Retry-After"] == "1"
    assert await _leased_to(intake_db, keyer_id) == {first}
    # One whose process ended after its leases and before its answer committed: the task it
    # leased is the answer, not a second one (the first would be held by nobody).
    await made(BEING_MADE_FOR + timedelta(seconds=1))
    later = await intake.post(CLAIM, json=body, headers=keyed)
    assert (later.headers["Idempotent-Replayed"], _ids(later)) == ("true", [first])
    assert await _leased_to(intake_db, keyer_id) == {first}


async def test_a_claim_sent_again_as_the_first_s_answer_is_made_waits_for_that_answer(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """The one sent again may take the claims lock before the first takes it back to make its
    answer: it looks again rather than answer 503 at once."""
    keyer_id, keyer, job = await _keyer_and_job(intake, tokens, 2, due_at=past(-850))
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    body = {"job_id": job["id"]}
    (first,) = _ids(await intake.post(CLAIM, json=body, headers=keyed))
    answered = CLAIM_KEY.c.contractor_id == keyer_id
    async with intake_db() as session, session.begin():
        await session.execute(update(CLAIM_KEY).where(answered).values(answered_at=None))

    again = asyncio.create_task(intake.post(CLAIM, json=body, headers=keyed))
    await asyncio.sleep(0.3)
    async with intake_db() as session, session.begin():
        await session.execute(update(CLAIM_KEY).where(answered).values(answered_at=utcnow()))

    answer = await again
    assert (answer.headers.get("Idempotent-Replayed"), _ids(answer)) == ("true", [first])
    assert await _leased_to(intake_db, keyer_id) == {first}
