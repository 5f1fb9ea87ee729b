"""Work nobody may take does not wait in silence: an item whose task no active contractor may
claim for long enough is flagged for a manager, and the flag goes once someone can."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from bpo_common.contracts import TaskKind, validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, someone_waits_for_a_lock
from bpo_intake.domain import tasks as domain
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item, Task
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.service import decisions, tasks
from bpo_intake.service import items as items_service

from .conftest import stored_items
from .keying import claim_tasks, keying_job, new_contractor

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def _queued_long_ago(sessions: SessionFactory, job_id: str) -> None:
    """The job's tasks have waited since LONG_AGO (older than any other test's)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Task).where(Task.job_id == UUID(job_id)).values(created_at=LONG_AGO)
        )


async def _check(sessions: SessionFactory) -> None:
    """The check, for tasks queued since before a day after LONG_AGO: only this file's."""
    waited = datetime.now(UTC) - LONG_AGO - timedelta(days=1)
    async with sessions() as session, session.begin():
        await tasks.flag_unclaimable_items(session, waited=waited)


async def _flag_of(intake: httpx.AsyncClient, tokens: Tokens, item_id: str) -> str | None:
    """The item's reason on the managers' list of flagged items, if it is there."""
    flagged = await intake.get("/v1/items/flagged?limit=500", headers=tokens.manager())
    assert flagged.status_code == 200, flagged.text
    reasons = [i["flagged_reason"] for i in flagged.json()["data"] if i["id"] == item_id]
    return reasons[0] if reasons else None


async def test_an_item_whose_task_needs_a_skill_nobody_has_is_flagged_until_someone_can(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    skill = f"rare-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 1, required_skills=[skill])
    await _queued_long_ago(intake_db, job["id"])
    items = await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.manager())
    (item,) = items.json()["data"]

    await _check(intake_db)

    reason = await _flag_of(intake, tokens, item["id"])
    assert reason is not None
    assert reason.startswith("no active contractor may take its entry task")

    # A manager finds someone with the skill and clears the flag: the item keeps its task.
    _, keyer = await new_contractor(intake, tokens, skill)
    requeued = await intake.post(f"/v1/items/{item['id']}/requeue", headers=tokens.manager())
    assert requeued.json()["flagged_reason"] is None
    await _check(intake_db)
    assert await _flag_of(intake, tokens, item["id"]) is None, "someone may take it now"
    (task,) = await claim_tasks(intake, keyer, limit=5, job_id=job["id"])
    assert task["item_id"] == item["id"]


async def test_an_item_decided_while_the_check_waited_for_it_is_not_flagged(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await keying_job(intake, tokens, 1, required_skills=[f"rare-{new_id().hex[-8:]}"])
    await _queued_long_ago(intake_db, job["id"])
    (item,) = await stored_items(intake_db, job["id"])

    async with intake_db() as decision, decision.begin():
        # A decision holds the item as the check finds it unclaimable, then completes it.
        await decision.execute(select(Item).where(Item.id == item.id).with_for_update())
        check = asyncio.ensure_future(_check(intake_db))
        await someone_waits_for_a_lock(decision)
        await decision.execute(
            update(Item).where(Item.id == item.id).values(status=ItemStatus.COMPLETED)
        )
    await check

    assert await _flag_of(intake, tokens, str(item.id)) is None


async def test_an_item_every_qualified_contractor_has_worked_on_is_flagged(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    skill = f"only-one-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 1, required_skills=[skill], qc={"mode": "double"})
    _, keyer = await new_contractor(intake, tokens, skill)
    (first,) = await claim_tasks(intake, keyer, job_id=job["id"])
    submitted = await intake.post(
        f"/v1/tasks/{first['id']}/submit",
        json={"data": {"invoice_number": "A-1", "total": "10"}},
        headers=keyer,
    )
    assert submitted.status_code == 202, submitted.text
    await _queued_long_ago(intake_db, job["id"])

    await _check(intake_db)

    reason = await _flag_of(intake, tokens, first["item_id"])
    assert reason is not None
    assert "each who has them already worked on the item" in reason


async def test_a_requeue_waits_for_a_cancel_of_its_job_under_way(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """A cancel withdraws its job's tasks under the job's lock: a requeue meanwhile waits for
    it (and then finds the job cancelled) instead of adding a task the cancel never sees."""
    job = await keying_job(intake, tokens, 1, required_skills=[f"rare-{new_id().hex[-8:]}"])
    await _queued_long_ago(intake_db, job["id"])
    await _check(intake_db)
    items = await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.manager())
    (item,) = items.json()["data"]

    async def requeue_while_cancelling() -> None:
        async with intake_db() as cancelling, cancelling.begin():
            assert await jobs_repository.get_job_for_update(cancelling, UUID(job["id"]))
            async with intake_db() as requeuing, requeuing.begin():
                await requeuing.execute(text("SET LOCAL lock_timeout = '1s'"))
                await items_service.requeue_item(
                    requeuing, UUID(item["id"]), data_keys, personal=True
                )

    with pytest.raises(DBAPIError, match="lock timeout"):
        await requeue_while_cancelling()


async def test_a_cancelled_jobs_flagged_item_leaves_the_managers_list(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await keying_job(intake, tokens, 1, required_skills=[f"rare-{new_id().hex[-8:]}"])
    await _queued_long_ago(intake_db, job["id"])
    (item,) = (await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.manager())).json()[
        "data"
    ]
    await _check(intake_db)
    assert await _flag_of(intake, tokens, item["id"]) is not None

    client = tokens.client(UUID(job["client_id"]))
    assert (await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)).is_success
    assert await _flag_of(intake, tokens, item["id"]) is None, "nothing is left to do on it"


async def test_a_requeue_of_an_item_keyed_since_its_flag_only_clears_the_flag(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """The check found its task queued and flagged the item as someone claimed it; keyed, the
    invoice waits on an exception: the manager's requeue does not have it keyed once more."""
    job = await keying_job(intake, tokens, 1)
    _, keyer = await new_contractor(intake, tokens)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    keyed = {"data": {"invoice_number": "A-1", "total": "10"}}
    submitted = await intake.post(f"/v1/tasks/{task['id']}/submit", json=keyed, headers=keyer)
    assert submitted.status_code == 202, submitted.text
    item_id = UUID(task["item_id"])
    async with intake_db() as session, session.begin():
        reason = domain.unclaimable_reason(TaskKind.ENTRY, timedelta(minutes=10))
        await session.execute(update(Item).where(Item.id == item_id).values(flagged_reason=reason))
        exception_id = new_id()
        held = validation.ExceptionOpened(
            exception_id=exception_id,
            item_id=item_id,
            job_id=UUID(job["id"]),
            client_id=UUID(job["client_id"]),
            outcome="mismatch",
            reasons=["no order PO-1"],
            lines=[],
            opened_at=datetime.now(UTC),
        )
        await decisions.decide_items(session, [held], data_keys)

    requeued = await intake.post(f"/v1/items/{item_id}/requeue", headers=tokens.manager())
    assert requeued.status_code == 200, requeued.text
    item = requeued.json()
    assert (item["status"], item["flagged_reason"]) == ("exception", None)
    assert item["exception"]["id"] == str(exception_id)
    assert await _flag_of(intake, tokens, str(item_id)) is None
    async with intake_db() as session:
        statuses = list(await session.scalars(select(Task.status).where(Task.item_id == item_id)))
    assert statuses == [TaskStatus.SUBMITTED], "no task made afresh: it is not keyed again"


async def test_a_flag_for_a_task_nobody_could_take_goes_once_someone_takes_one(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    """Its second keying was flagged; once a keyer given the skill claims it, the managers'
    list no longer says nobody may take it. A flag for leases that kept expiring stays while
    its task waits to be made afresh, whatever other task of the item is claimed."""
    skill = f"only-one-{new_id().hex[-8:]}"
    job = await keying_job(intake, tokens, 2, required_skills=[skill], qc={"mode": "double"})
    _, first_keyer = await new_contractor(intake, tokens, skill)
    held = await claim_tasks(intake, first_keyer, limit=2, job_id=job["id"])
    keyed, expiring = sorted(held, key=lambda task: task["item_id"])
    data = {"data": {"invoice_number": "A-1", "total": "10"}}
    await intake.post(f"/v1/tasks/{keyed['id']}/submit", json=data, headers=first_keyer)
    async with intake_db() as session, session.begin():  # the other lease runs out, given up
        future = datetime.now(UTC) + timedelta(days=1)
        await tasks.sweep_expired_leases(session, max_attempts=1, now=future)
    await _queued_long_ago(intake_db, job["id"])
    await _check(intake_db)
    unclaimable = await _flag_of(intake, tokens, keyed["item_id"])
    assert unclaimable is not None
    assert "each who has them already worked on the item" in unclaimable
    given_up = await _flag_of(intake, tokens, expiring["item_id"])
    assert given_up == domain.flag_reason(TaskKind.ENTRY, 1)

    _, second_keyer = await new_contractor(intake, tokens, skill)
    claimed = await claim_tasks(intake, second_keyer, limit=2, job_id=job["id"])
    assert sorted(task["item_id"] for task in claimed) == sorted(
        [keyed["item_id"], expiring["item_id"]]
    )

    assert await _flag_of(intake, tokens, keyed["item_id"]) is None
    assert await _flag_of(intake, tokens, expiring["item_id"]) == given_up
