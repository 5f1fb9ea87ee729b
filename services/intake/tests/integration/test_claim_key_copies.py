"""A claim sent again with its Idempotency-Key gives what the first one answered with where that
is not what it leased: a control drawn in place of a task, a qualification's copy given for
want of work. The task it leased first went back to the queue, and is not the answer."""

from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item, Task

from .controlled import client_with_controls, control_job
from .keying import new_contractor
from .qualified import qualification, skill_for

CLAIM = "/v1/tasks/claim"
# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"claim-key-copies-{new_id().hex[-8:]}"


async def _sent_twice(
    intake: httpx.AsyncClient, keyer: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """The claim's task, sent with a key and sent again with it: the same answer, replayed."""
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}
    first = await intake.post(CLAIM, json=body, headers=keyed)
    again = await intake.post(CLAIM, json=body, headers=keyed)
    assert first.status_code == 200, first.text
    assert (again.headers["Idempotent-Replayed"], again.json()) == ("true", first.json())
    (task,) = first.json()["tasks"]
    return dict(task)


async def _tasks_of_job(sessions: SessionFactory, job_id: str) -> dict[UUID, tuple[str, Any]]:
    """The job's tasks: their status, and the contractor holding them."""
    async with sessions() as session:
        query = select(Task.id, Task.status, Task.contractor_id).where(Task.job_id == UUID(job_id))
        return {row.id: (row.status, row.contractor_id) for row in await session.execute(query)}


async def test_a_claim_sent_again_gives_the_control_drawn_in_place_of_its_task(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    keyer_id, keyer = await new_contractor(intake, tokens, SKILL)

    control = await _sent_twice(intake, keyer, {"job_id": job["id"]})

    async with intake_db() as session:
        item = await session.get(Item, UUID(control["item_id"]))
    assert item is not None
    assert item.control_of is not None, "a control was drawn"
    tasks = await _tasks_of_job(intake_db, job["id"])
    assert tasks.pop(UUID(control["id"])) == (TaskStatus.LEASED, keyer_id)
    assert list(tasks.values()) == [(TaskStatus.QUEUED, None)], "the task it leased went back"


async def test_a_claim_sent_again_gives_the_qualifications_copy_it_was_given(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 1)
    keyer_id, keyer = await new_contractor(intake, tokens, skill_for(work_type))

    copy = await _sent_twice(intake, keyer, {"job_id": waiting["id"]})

    assert copy["job_id"] == known["id"], "the qualification's item, not the job's"
    held = await _tasks_of_job(intake_db, known["id"])
    assert held[UUID(copy["id"])] == (TaskStatus.LEASED, keyer_id)
    queued = await _tasks_of_job(intake_db, waiting["id"])
    assert set(queued.values()) == {(TaskStatus.QUEUED, None)}
