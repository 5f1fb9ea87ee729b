"""Qualifications: a work type whose manager set one (a set of control items: those of one
job) is keyed only by contractors with its skill. One without it who claims entry work is
given the set's items, copies none of the client's work, one a claim; keying enough of them
right grants the skill, failing holds the work type's items back until the retry delay."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields, outbox_events
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item, Job, Task
from bpo_intake.service import decisions, tasks

from .conftest import register_client, stored_items
from .controlled import known_item
from .keying import claim_tasks, new_contractor, stored_task
from .qualified import attempts_of, own_work_type, qualification, real_items, single_job, skill_for

# Long enough for a claim that does not wait for the set's job to have answered many times.
CLAIM_ANSWERS_WITHIN_S = 10


async def _key(
    intake: httpx.AsyncClient,
    sessions: SessionFactory,
    keys: DataKeys,
    keyer: tuple[UUID, dict[str, str]],
    task: dict[str, Any],
    *,
    right: bool,
) -> None:
    """The keyer submits the task, and validation's judgement of it (accepted, the keying
    against the known answer) is applied as intake's consumer applies it."""
    data = {"holder": "Typed", "total": "1.00"}
    response = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer[1]
    )
    assert response.status_code == 202, response.text
    (sent,) = await outbox_events(sessions, "bpo.intake.task.submitted", task_id=task["id"])
    assert (sent.data["qualification"], sent.data["control_copy"]) == (True, True), "a copy"
    accepted = validation.ItemAccepted(
        item_id=UUID(task["item_id"]),
        job_id=UUID(task["job_id"]),
        client_id=new_id(),
        result=data,
        control=validation.ControlKeying(
            task_id=UUID(task["id"]),
            contractor_id=keyer[0],
            fields_judged=2,
            fields_correct=2 if right else 1,
        ),
        decided_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [accepted], keys)


async def test_a_qualification_makes_its_work_types_jobs_require_its_skill(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    work_type = own_work_type()
    client_id = await register_client(intake, tokens)
    known = await single_job(
        intake, tokens, client_id, work_type, [known_item(n) for n in range(3)]
    )
    before = await single_job(intake, tokens, client_id, work_type, real_items(2))
    # One of its tasks is held meanwhile: given back, it requires the skill as well.
    await claim_tasks(intake, (await new_contractor(intake, tokens, skill_for(work_type)))[1],
                      job_id=before["id"])  # fmt: skip
    body = {"job_id": known["id"], "pass_mark": "0.8", "retry_after_hours": 2}

    response = await intake.put(
        f"/v1/work-types/{work_type}/qualification", json=body, headers=tokens.manager()
    )

    assert response.status_code == 200, response.text
    shown = response.json()
    assert (shown["work_type"], shown["job_id"], shown["items"]) == (work_type, known["id"], 3)
    assert (shown["pass_mark"], shown["retry_after_hours"]) == ("0.8", 2)
    got = await intake.get(f"/v1/work-types/{work_type}/qualification", headers=tokens.manager())
    assert got.json() == shown
    after = await single_job(intake, tokens, client_id, work_type, real_items(1))
    assert after["required_skills"] == [skill_for(work_type), work_type]
    client = tokens.client(client_id)
    earlier = (await intake.get(f"/v1/jobs/{before['id']}", headers=client)).json()
    assert earlier["required_skills"] == after["required_skills"], "an open job requires it too"
    async with intake_db() as session:
        tasks_of = await session.scalars(select(Task).where(Task.job_id == UUID(before["id"])))
        held = {task.status: task.required_skills for task in tasks_of}
    assert held == dict.fromkeys((TaskStatus.QUEUED, TaskStatus.LEASED), after["required_skills"])


async def test_a_contractor_without_the_skill_is_given_the_set_not_the_clients_items(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 2)
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    real = {str(item.id) for item in await stored_items(intake_db, waiting["id"])}
    pool = {str(item.id): item for item in await stored_items(intake_db, known["id"])}

    # (Claims of the waiting job: those of the whole queue might take other tests' tasks.)
    first, second = [(await claim_tasks(intake, keyer[1], job_id=waiting["id"]))[0] for _ in "12"]
    third = await claim_tasks(intake, keyer[1], job_id=waiting["id"])

    assert third == [], "each item of the set is given once; then nothing until judged"
    for task in (first, second):
        assert task["item_id"] not in real | set(pool)
        assert task["job_id"] == known["id"]
        assert "golden" not in task
        assert task["fields"] == known["fields"]
    async with intake_db() as session:
        copies = [await session.get(Item, UUID(t["item_id"])) for t in (first, second)]
    assert {str(copy.control_of) for copy in copies if copy} == set(pool)
    assert {first["source"]["holder"], second["source"]["holder"]} == {
        "Known Holder 0",
        "Known Holder 1",
    }
    (attempt,) = await attempts_of(intake, keyer)
    assert attempt | {"started_at": None} == {
        "work_type": work_type,
        "outcome": "pending",
        "items": 2,
        "answered": 0,
        "right": 0,
        "started_at": None,
        "finished_at": None,
        "retry_at": None,
    }
    client = tokens.client(UUID(waiting["client_id"]))
    counts = (await intake.get(f"/v1/jobs/{known['id']}", headers=client)).json()["counts"]
    assert counts["total"] == 2, "copies are none of the client's items"


async def test_keying_the_set_right_grants_the_skill_and_the_clients_work_follows(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type, _, waiting = await qualification(intake, tokens, 2, pass_mark="1")
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    real = {str(item.id) for item in await stored_items(intake_db, waiting["id"])}

    for _ in range(2):
        (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
        await _key(intake, intake_db, data_keys, keyer, task, right=True)

    (attempt,) = await attempts_of(intake, keyer)
    assert (attempt["outcome"], attempt["answered"], attempt["right"]) == ("passed", 2, 2)
    assert attempt["finished_at"] is not None
    me = (await intake.get(f"/v1/contractors/{keyer[0]}", headers=keyer[1])).json()
    assert me["skills"] == [skill_for(work_type), work_type]
    (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    assert task["item_id"] in real


async def test_failing_holds_the_work_back_until_the_retry_delay(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type, _, waiting = await qualification(intake, tokens, 2, pass_mark="0.9")
    keyer = await new_contractor(intake, tokens, skill_for(work_type))

    for right in (True, False):
        (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
        await _key(intake, intake_db, data_keys, keyer, task, right=right)

    (attempt,) = await attempts_of(intake, keyer)
    assert (attempt["outcome"], attempt["answered"], attempt["right"]) == ("failed", 2, 1)
    finished = datetime.fromisoformat(attempt["finished_at"])
    assert datetime.fromisoformat(attempt["retry_at"]) == finished + timedelta(hours=24)
    assert await claim_tasks(intake, keyer[1], job_id=waiting["id"]) == []
    me = (await intake.get(f"/v1/contractors/{keyer[0]}", headers=keyer[1])).json()
    assert me["skills"] == [skill_for(work_type)]


async def test_with_no_retry_delay_a_failed_contractor_starts_again_at_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 1, retry_after_hours=0)
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    await _key(intake, intake_db, data_keys, keyer, task, right=False)

    (again,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])

    assert again["job_id"] == known["id"]
    assert again["item_id"] != task["item_id"], "a new copy, in a new attempt"
    outcomes = [attempt["outcome"] for attempt in await attempts_of(intake, keyer)]
    assert outcomes == ["pending", "failed"]


@pytest.mark.parametrize("given_back", [False, True], ids=["lease ran out", "given back"])
async def test_a_copy_whose_lease_ran_out_or_given_back_is_withdrawn_and_its_item_given_again(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, given_back: bool
) -> None:
    work_type, _, waiting = await qualification(intake, tokens, 1)
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    expired = datetime.fromisoformat(task["lease_expires_at"]) + timedelta(seconds=1)

    if given_back:
        released = await intake.post(f"/v1/tasks/{task['id']}/release", headers=keyer[1])
        assert released.status_code == 204, released.text
    else:
        async with intake_db() as session, session.begin():
            await tasks.sweep_expired_leases(session, max_attempts=3, now=expired)

    stored = await stored_task(intake_db, task["id"])
    assert stored.status is TaskStatus.CANCELLED, "nobody else keys the contractor's copy"
    (again,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    async with intake_db() as session:
        first, second = [await session.get(Item, UUID(t["item_id"])) for t in (task, again)]
    assert first is not None
    assert second is not None
    assert second.id != first.id
    assert (second.control_of, second.attempt_id) == (first.control_of, first.attempt_id)
    assert first.flagged_reason is None


async def test_no_copy_goes_into_a_set_whose_job_was_cancelled_since(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 1)
    client = tokens.client(UUID(known["client_id"]))
    cancelled = await intake.post(f"/v1/jobs/{known['id']}/cancel", headers=client)
    assert cancelled.status_code == 200, cancelled.text
    keyer = await new_contractor(intake, tokens, skill_for(work_type))

    assert await claim_tasks(intake, keyer[1], job_id=waiting["id"]) == []
    assert await attempts_of(intake, keyer) == [], "no attempt starts either"


async def test_no_copy_goes_into_a_set_whose_job_a_withdrawal_holds(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 1)
    keyer = await new_contractor(intake, tokens, skill_for(work_type))

    async with intake_db() as session, session.begin():
        # As a cancel or an erasure holds the set's job while it withdraws its work.
        await session.execute(select(Job).where(Job.id == known["id"]).with_for_update())
        claim = claim_tasks(intake, keyer[1], job_id=waiting["id"])
        assert await asyncio.wait_for(claim, CLAIM_ANSWERS_WITHIN_S) == []

    assert await attempts_of(intake, keyer) == [], "no attempt starts either"
    copies = await stored_items(intake_db, known["id"])
    assert [item.control_of for item in copies if item.control_of] == []


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"job_id": "00000000-0000-7000-8000-000000000000"}, "job_id", "no job"),
        ({"job_id": "OTHER"}, "job_id", "is of work type"),
        ({"job_id": "PLAIN"}, "job_id", "has no control items"),
        ({"job_id": "KNOWN", "pass_mark": "0"}, "pass_mark", ""),
        ({"job_id": "KNOWN", "pass_mark": "1.5"}, "pass_mark", ""),
        ({"job_id": "KNOWN", "pass_mark": "0.00001"}, "pass_mark", ""),
        ({"job_id": "KNOWN", "pass_mark": "1E-20000"}, "pass_mark", ""),
        ({"job_id": "KNOWN", "retry_after_hours": -1}, "retry_after_hours", ""),
        ({"job_id": "KNOWN", "skill": "x"}, "skill", ""),
    ],
)
async def test_a_qualification_that_cannot_hold_is_refused_naming_the_member(
    intake: httpx.AsyncClient, tokens: Tokens, body: dict[str, Any], field: str, says: str
) -> None:
    work_type = own_work_type()
    client_id = await register_client(intake, tokens)
    jobs = {
        "KNOWN": await single_job(intake, tokens, client_id, work_type, [known_item(0)]),
        "PLAIN": await single_job(intake, tokens, client_id, work_type, real_items(1)),
        "OTHER": await single_job(intake, tokens, client_id, own_work_type(), [known_item(0)]),
    }
    sent = body | {"job_id": jobs[body["job_id"]]["id"]} if body["job_id"] in jobs else body

    response = await intake.put(
        f"/v1/work-types/{work_type}/qualification", json=sent, headers=tokens.manager()
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert says in problem["detail"]
    missing = await intake.get(
        f"/v1/work-types/{work_type}/qualification", headers=tokens.manager()
    )
    assert_problem(missing, 404)
    plain = (await intake.get(f"/v1/jobs/{jobs['PLAIN']['id']}", headers=tokens.manager())).json()
    assert plain["required_skills"] == [skill_for(work_type)], "nothing was stored"


async def _two_item_attempt(
    intake: httpx.AsyncClient, tokens: Tokens
) -> tuple[str, dict[str, Any], dict[str, Any], tuple[UUID, dict[str, str]], dict[str, Any]]:
    """A qualification of two items, and a contractor given the first copy of an attempt at
    it: (work type, the set's job, the waiting job, the contractor, the copy's task)."""
    work_type, known, waiting = await qualification(intake, tokens, 2)
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    return work_type, known, waiting, keyer, task


async def test_an_attempt_whose_set_shrank_under_it_ends_on_the_copies_it_gave(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type, known, waiting, keyer, task = await _two_item_attempt(intake, tokens)
    await _key(intake, intake_db, data_keys, keyer, task, right=True)
    async with intake_db() as session:
        copy = await session.get(Item, UUID(task["item_id"]))
    assert copy is not None
    (other,) = [
        item
        for item in await stored_items(intake_db, known["id"])
        if item.control_of is None and item.id != copy.control_of
    ]
    owner = tokens.client(UUID(known["client_id"]))
    assert (await intake.delete(f"/v1/items/{other.id}/data", headers=owner)).status_code == 202

    # Nothing left to give: the attempt is of the one copy, answered right, and passes.
    await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    (attempt,) = await attempts_of(intake, keyer)
    assert (attempt["outcome"], attempt["items"], attempt["right"]) == ("passed", 1, 1)
    me = (await intake.get(f"/v1/contractors/{keyer[0]}", headers=keyer[1])).json()
    assert work_type in me["skills"]


async def test_a_keyed_copy_whose_item_is_erased_before_its_judgement_is_not_held_against_them(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    _, known, waiting, keyer, first = await _two_item_attempt(intake, tokens)
    keyed = await intake.post(
        f"/v1/tasks/{first['id']}/submit",
        json={"data": {"holder": "Typed", "total": "1.00"}},
        headers=keyer[1],
    )
    assert keyed.status_code == 202, keyed.text
    (second,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    async with intake_db() as session:
        copy = await session.get(Item, UUID(first["item_id"]))
    assert copy is not None
    owner = tokens.client(UUID(known["client_id"]))
    erased = await intake.delete(f"/v1/items/{copy.control_of}/data", headers=owner)
    assert erased.status_code == 202, erased.text

    await _key(intake, intake_db, data_keys, keyer, second, right=True)
    await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    (attempt,) = await attempts_of(intake, keyer)
    assert (attempt["outcome"], attempt["items"], attempt["answered"]) == ("passed", 1, 1)


async def test_an_attempt_whose_set_grew_under_it_gives_no_more_copies_than_it_counts(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    _, known, waiting, keyer, _ = await _two_item_attempt(intake, tokens)
    await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    more = {"items": [known_item(n) for n in (2, 3)]}
    owner = tokens.client(UUID(known["client_id"]))
    grown = await intake.post(f"/v1/jobs/{known['id']}/items", json=more, headers=owner)
    assert grown.status_code == 202, grown.text

    given = await claim_tasks(intake, keyer[1], job_id=waiting["id"])

    assert given == [], "both copies it counts are given: nothing more until they are judged"
    (attempt,) = await attempts_of(intake, keyer)
    assert (attempt["outcome"], attempt["items"], attempt["answered"]) == ("pending", 2, 0)
