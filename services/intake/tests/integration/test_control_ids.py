"""A control injected at a claim cannot be told from the task it took the place of by its
ids: a UUIDv7 carries when it was made, and every real task was made before the claim that
gives it, a control at the claim. The task it took the place of goes back as nobody took it:
its item pending, and flagged if it was."""

import asyncio
from datetime import timedelta
from uuid import UUID

import httpx
from sqlalchemy import insert, select, update

from bpo_common.contracts import TaskKind
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import made_at, new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import unclaimable_reason
from bpo_intake.models import Item, Task

from .conftest import stored_items
from .controlled import client_with_controls, control_job
from .keying import claim_tasks, new_contractor, stored_task

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"control-ids-{new_id().hex[-8:]}"


async def test_a_controls_item_and_task_ids_carry_the_times_of_the_task_it_replaced(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    (real,) = await stored_items(intake_db, job["id"])
    async with intake_db() as session:
        (replaced,) = await session.scalars(select(Task).where(Task.item_id == real.id))
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])

    control = await stored_task(intake_db, task["id"])
    async with intake_db() as session:
        item = await session.get(Item, UUID(task["item_id"]))
    assert item is not None
    assert item.control_of is not None, "the claim gave a control"
    assert (task["item_id"], task["id"]) != (str(real.id), str(replaced.id))
    assert made_at(UUID(task["item_id"])) == made_at(real.id)
    assert made_at(UUID(task["id"])) == made_at(replaced.id)
    assert control.claimed_at is not None
    assert made_at(UUID(task["id"])) < control.claimed_at, "made before the claim, as any task"


async def test_the_item_whose_task_a_control_took_stays_pending_and_flagged_as_it_was(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    (real,) = await stored_items(intake_db, job["id"])
    flag = unclaimable_reason(TaskKind.ENTRY, timedelta(minutes=10))
    async with intake_db() as session, session.begin():
        await session.execute(update(Item).where(Item.id == real.id).values(flagged_reason=flag))
    _, keyer = await new_contractor(intake, tokens, SKILL)

    async def listed(status: str) -> list[tuple[str, str | None]]:
        url = f"/v1/jobs/{job['id']}/items?status={status}"
        response = await intake.get(url, headers=tokens.client(client_id))
        return [(item["id"], item["flagged_reason"]) for item in response.json()["data"]]

    (control,) = await claim_tasks(intake, keyer, job_id=job["id"])

    assert control["item_id"] != str(real.id), "the claim gave a control"
    assert await listed("pending") == [(str(real.id), flag)]
    # Its task claimed in earnest (the pool is spent for the keyer): started, and unflagged.
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert task["item_id"] == str(real.id)
    assert await listed("in_progress") == [(str(real.id), None)]


async def test_a_claim_giving_way_to_a_control_waits_on_no_other_task_of_the_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """Another transaction holds the item's other task (a claim leasing it, a cancel): the
    claim leaves the item as its statement left it rather than wait for that task while it
    holds its own (as a cancel waits for its own, the two would deadlock)."""
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    (real,) = await stored_items(intake_db, job["id"])
    _, keyer = await new_contractor(intake, tokens, SKILL)
    async with intake_db() as session, session.begin():
        task = await session.scalar(select(Task).where(Task.item_id == real.id))
        assert task is not None
        other = {c.name: getattr(task, c.key) for c in Task.__table__.columns}
        # A second keying no keyer of this test may take.
        other |= {"id": new_id(), "required_skills": [f"nobody-{new_id().hex}"]}
        await session.execute(insert(Task).values(**other))

    async with intake_db() as session, session.begin():
        await session.execute(select(Task.id).where(Task.id == other["id"]).with_for_update())
        claimed = asyncio.create_task(claim_tasks(intake, keyer, job_id=job["id"]))
        (control,) = await asyncio.wait_for(asyncio.shield(claimed), 10)

    assert control["item_id"] != str(real.id), "the claim gave a control"
    async with intake_db() as session:
        assert await session.scalar(select(Item.status).where(Item.id == real.id)) == "in_progress"
