"""Control items injected at claim (`qc.golden_rate`): a claimed entry task gives way, at the
job's golden rate (doubled, up to one in two, for a keyer new to the work type or doubted on
it), to a copy of one of the client's control items the keyer never had. The keyer sees no
known answer; validation is told it; the control is none of the client's work: not counted,
listed, in the results, nor billed, and the job completes without it."""

from datetime import UTC, datetime
from functools import partial
from random import Random
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.errors import Forbidden
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, assert_problem, error_fields, outbox_events
from bpo_intake.app import create_app
from bpo_intake.models import Document, Item, Job, Task
from bpo_intake.repository import controls as controls_repository
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.service import controls, decisions
from bpo_intake.settings import Settings

from .conftest import opened_events, register_client, stored_items
from .controlled import (
    FIELDS,
    KNOWN_TOTAL,
    accept,
    client_with_controls,
    control_job,
    known_item,
    submit_typed,
)
from .keying import claim_tasks, new_contractor

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"controls-{new_id().hex[-8:]}"


class Steered(Random):
    """Random draws, but for the next ones a test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.next: list[float] = []

    def random(self) -> float:
        return self.next.pop(0) if self.next else super().random()


DRAWS = Steered()


@pytest.fixture(scope="module")
def intake_app(stack: TestStack) -> FastAPI:
    return create_app(stack.settings(Settings, "intake"), draw=DRAWS)


_client_with_controls = partial(client_with_controls, skill=SKILL)
_job = partial(control_job, skill=SKILL)


async def _pool(sessions: SessionFactory, client_id: UUID) -> dict[UUID, Item]:
    async with sessions() as session:
        query = select(Item).where(
            Item.client_id == client_id, Item.golden.is_not(None), Item.control_of.is_(None)
        )
        return {item.id: item for item in await session.scalars(query)}


@pytest.mark.parametrize("rate", ["-0.01", "1.5"])
async def test_a_golden_rate_outside_0_to_1_is_refused_naming_it(
    intake: httpx.AsyncClient, tokens: Tokens, rate: str
) -> None:
    client_id = await register_client(intake, tokens)
    body = {"work_type": "claims", "fields": FIELDS, "qc": {"golden_rate": rate}}

    response = await intake.post("/v1/jobs", json=body, headers=tokens.client(client_id))

    assert error_fields(assert_problem(response, 422)) == ["qc.golden_rate"]


async def test_a_claim_at_golden_rate_1_gets_a_control_copied_from_the_pool_without_its_answer(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    job = await _job(intake, tokens, client_id, 2, "1")
    real = {str(item.id) for item in await stored_items(intake_db, job["id"])}
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])

    assert task["kind"] == "entry"
    assert task["job_id"] == job["id"]
    assert task["item_id"] not in real, "a control is a new item of the job"
    assert task["source"] == {"holder": "Known Holder 0", "scan": "known-0.png"}
    assert task["fields"] == job["fields"]
    assert "golden" not in task
    assert KNOWN_TOTAL not in str(task), "the known answer is never shown"
    async with intake_db() as session:
        control = await session.get(Item, UUID(task["item_id"]))
    (pool_item,) = (await _pool(intake_db, client_id)).values()
    assert control is not None
    assert control.control_of == pool_item.id
    assert control.golden != pool_item.golden, "the answer is sealed again with the job's key"
    (received,) = [
        e
        for e in await outbox_events(intake_db, "bpo.intake.items.received", job_id=job["id"])
        if len(e.data["items"]) == 1
    ]
    assert received.data["items"] == [
        {"item_id": task["item_id"], "external_id": None, "golden": True, "control_copy": True}
    ]

    await submit_typed(intake, keyer, task["id"])

    (said,) = await opened_events(
        intake_db, data_keys, "bpo.intake.task.submitted", task_id=task["id"]
    )
    assert said.data["golden"] == {"holder": "Known Holder 0", "total": f"{KNOWN_TOTAL}.01"}
    assert said.data["entries_expected"] == 1
    shown = (await intake.get(f"/v1/jobs/{job['id']}", headers=tokens.client(client_id))).json()
    assert shown["counts"]["total"] == 2, "a control is none of the job's items"
    listed = await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id))
    assert {item["id"] for item in listed.json()["data"]} == real


async def test_a_keyer_never_gets_the_same_pool_item_twice_and_real_work_once_it_is_spent(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 2)
    job = await _job(intake, tokens, client_id, 2, "1")
    real = [str(item.id) for item in await stored_items(intake_db, job["id"])]
    _, keyer = await new_contractor(intake, tokens, SKILL)

    first, second, third = [
        (await claim_tasks(intake, keyer, job_id=job["id"]))[0] for _ in range(3)
    ]

    assert third["item_id"] == real[0], "the pool has nothing left the keyer has not had"
    copied = {str(i.id): i.control_of for i in await stored_items(intake_db, job["id"])}
    pool = await _pool(intake_db, client_id)
    assert {copied[first["item_id"]], copied[second["item_id"]]} == set(pool)
    # Another keyer draws from the whole pool again (in place of the other item).
    _, other = await new_contractor(intake, tokens, SKILL)
    (theirs,) = await claim_tasks(intake, other, job_id=job["id"])
    async with intake_db() as session:
        control = await session.get(Item, UUID(theirs["item_id"]))
    assert control is not None
    assert control.control_of in pool


async def test_a_job_at_golden_rate_0_never_gives_a_control(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 3)
    job = await _job(intake, tokens, client_id, 4, "0")
    _, keyer = await new_contractor(intake, tokens, SKILL)
    DRAWS.next = [0.0] * 8

    claimed = await claim_tasks(intake, keyer, 4, job_id=job["id"])

    DRAWS.next = []
    items = await stored_items(intake_db, job["id"])
    assert len(items) == 4
    assert {task["item_id"] for task in claimed} == {str(item.id) for item in items}


async def test_controls_stay_out_of_the_results_and_the_job_completes_without_them(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    # The client's own control item in the job is no result either.
    job = await _job(intake, tokens, client_id, 1, "1", extra=[known_item(7)])
    mine = {item.external_id: str(item.id) for item in await stored_items(intake_db, job["id"])}
    (_, keyer), (_, other) = [await new_contractor(intake, tokens, SKILL) for _ in range(2)]
    (control,) = await claim_tasks(intake, keyer, job_id=job["id"])
    (still_open,) = await claim_tasks(intake, other, job_id=job["id"])
    assert {control["item_id"], still_open["item_id"]}.isdisjoint(mine.values())
    # The pool spent for the keyer (the job's own control item is not done yet): its items.
    own = [(await claim_tasks(intake, keyer, job_id=job["id"]))[0] for _ in range(2)]
    assert [task["item_id"] for task in own] == [mine["real-0"], mine["known-7"]]
    for task in (control, *own):
        await submit_typed(intake, keyer, task["id"])
        await accept(intake_db, data_keys, job, task["item_id"])
    client = tokens.client(client_id)

    closed = await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)

    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "completed", "a control still open holds nothing up"
    assert closed.json()["counts"]["completed"] == closed.json()["counts"]["total"] == 2
    results = await intake.get(f"/v1/jobs/{job['id']}/results", headers=client)
    assert [record["item_id"] for record in results.json()] == [mine["real-0"]]
    await submit_typed(intake, other, still_open["id"])
    await accept(intake_db, data_keys, job, still_open["item_id"])
    for task in (control, still_open):
        (completed,) = await outbox_events(
            intake_db, "bpo.intake.item.completed", item_id=task["item_id"]
        )
        assert completed.data["golden"] is True, "billing bills no control item"
        assert completed.data["control_copy"] is True, "reporting counts none of them"
    results = await intake.get(f"/v1/jobs/{job['id']}/results", headers=client)
    assert [record["item_id"] for record in results.json()] == [mine["real-0"]]
    as_csv = await intake.get(
        f"/v1/jobs/{job['id']}/results", headers=client | {"Accept": "text/csv"}
    )
    assert as_csv.text.splitlines()[1].startswith(mine["real-0"])
    assert len(as_csv.text.splitlines()) == 2, "a header and the one real item"


async def _veteran(
    intake: httpx.AsyncClient, tokens: Tokens, work_type: str
) -> tuple[UUID, dict[str, str]]:
    """A keyer with 20 items keyed on the work type: no longer new to it."""
    client_id = await register_client(intake, tokens)
    practice = await _job(intake, tokens, client_id, 20, "0", work_type)
    keyer_id, keyer = await new_contractor(intake, tokens, SKILL)
    for task in await claim_tasks(intake, keyer, 20, job_id=practice["id"]):
        await submit_typed(intake, keyer, task["id"])
    return keyer_id, keyer


async def _drawn_control(
    intake: httpx.AsyncClient, keyer: dict[str, str], job: dict[str, Any], drawn: float
) -> bool:
    """Whether a claim with this draw gets a control (the task is given back either way)."""
    DRAWS.next = [drawn]
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    DRAWS.next = []
    released = await intake.post(f"/v1/tasks/{task['id']}/release", headers=keyer)
    assert released.status_code == 204, released.text
    return bool(task["source"]["holder"].startswith("Known"))


async def test_a_new_or_doubted_keyer_draws_controls_twice_as_often_up_to_one_in_two(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type = f"claims-{new_id().hex[-8:]}"
    veteran_id, veteran = await _veteran(intake, tokens, work_type)
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 4, work_type)
    job = await _job(intake, tokens, client_id, 3, "0.3", work_type)
    _, newcomer = await new_contractor(intake, tokens, SKILL)

    assert await _drawn_control(intake, veteran, job, 0.29), "under the rate: anyone"
    assert not await _drawn_control(intake, veteran, job, 0.45)
    assert await _drawn_control(intake, newcomer, job, 0.45), "new: 0.6, capped at 0.5"
    assert not await _drawn_control(intake, newcomer, job, 0.55)
    doubted = validation.KeyerTrustChanged(
        contractor_id=veteran_id,
        work_type=work_type,
        doubtful=True,
        item_accuracy=0.9,
        crew_item_accuracy=0.97,
        decided_at=datetime.now(UTC),
    )
    async with intake_db() as session, session.begin():
        await decisions.route_keyer(session, doubted)
    assert await _drawn_control(intake, veteran, job, 0.45), "doubted: 0.5"
    # Twenty items keyed, all of them a qualification's copies: still new to the work type.
    qualified_id, qualified = await _veteran(intake, tokens, work_type)
    keyed = select(Task.item_id).where(Task.submitted_by == qualified_id)
    async with intake_db() as session, session.begin():
        await session.execute(update(Item).where(Item.id.in_(keyed)).values(attempt_id=new_id()))
    assert await _drawn_control(intake, qualified, job, 0.45), "a set's copies make no veteran"


async def test_erasing_a_control_item_erases_the_controls_copied_from_it(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    (pool_item,) = (await _pool(intake_db, client_id)).values()
    job = await _job(intake, tokens, client_id, 1, "1")
    _, keyer = await new_contractor(intake, tokens, SKILL)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    await submit_typed(intake, keyer, task["id"])

    erased = await intake.delete(f"/v1/items/{pool_item.id}/data", headers=tokens.client(client_id))

    assert erased.status_code == 202, erased.text
    async with intake_db() as session:
        control = await session.get(Item, UUID(task["item_id"]))
    assert control is not None
    assert (control.source, control.golden) == ({}, {})
    shown = await intake.get(f"/v1/jobs/{job['id']}/erasure", headers=tokens.client(client_id))
    assert shown.json()["item_ids"] == [task["item_id"]]
    (announced,) = await outbox_events(intake_db, "bpo.intake.data.erased", job_id=job["id"])
    assert announced.data["item_ids"] == [task["item_id"]]


async def test_a_pool_item_whose_documents_retention_deleted_is_not_drawn(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    (kept,) = (await _pool(intake_db, client_id)).values()
    now = datetime.now(UTC)
    gone = Document(
        id=new_id(), job_id=kept.job_id, client_id=client_id, filename="scan.pdf",
        media_type="application/pdf", size=1, sha256="0" * 64, pages=1, created_at=now,
        rendered_at=now, deleted_at=now,
    )  # fmt: skip
    async with intake_db() as session, session.begin():
        session.add(gone)
        await session.flush()
        await session.execute(update(Item).where(Item.id == kept.id).values(documents=[gone.id]))
    job = await _job(intake, tokens, client_id, 1, "1")
    (real,) = await stored_items(intake_db, job["id"])
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])

    assert task["item_id"] == str(real.id), "no control: its copy would have no pages to key"


async def test_a_pool_item_of_a_job_needing_a_skill_the_keyer_lacks_is_not_drawn(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    (kept,) = (await _pool(intake_db, client_id)).values()
    german = f"german-{new_id().hex[-8:]}"
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Job).where(Job.id == kept.job_id).values(required_skills=[SKILL, german])
        )
    job = await _job(intake, tokens, client_id, 2, "1")
    (first, second) = await stored_items(intake_db, job["id"])

    _, keyer = await new_contractor(intake, tokens, SKILL)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert task["item_id"] in {str(first.id), str(second.id)}, "no copy of what they may not see"
    _, able = await new_contractor(intake, tokens, SKILL, german)
    (control,) = await claim_tasks(intake, able, job_id=job["id"])
    assert control["source"]["holder"] == "Known Holder 0"


async def test_a_control_is_not_leased_to_a_contractor_suspended_since_the_claim_began(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    # A control is leased after the claim's statement, in its second transaction: a
    # suspension that came between them holds.
    client_id = await _client_with_controls(intake, tokens, intake_db, data_keys, 1)
    job = await _job(intake, tokens, client_id, 1, "1")
    contractor_id, _ = await new_contractor(intake, tokens, SKILL)
    suspended = await intake.post(
        f"/v1/contractors/{contractor_id}/suspend",
        json={"reason": "spot check"},
        headers=tokens.manager(),
    )
    assert suspended.status_code == 200, suspended.text

    async with intake_db() as session, session.begin():
        stored_job = await jobs_repository.job_to_add_to(session, UUID(job["id"]))
        pool = await controls_repository.pool_item(session, UUID(job["id"]), contractor_id, "0.5")
        assert stored_job is not None
        assert pool is not None
        now = datetime.now(UTC)
        with pytest.raises(Forbidden, match="suspended: spot check"):
            await controls.give_control(
                session, contractor_id, stored_job, pool, data_keys, now, lease_until=now
            )
    async with intake_db() as session:
        held = await session.scalars(select(Task).where(Task.contractor_id == contractor_id))
        assert list(held) == []
