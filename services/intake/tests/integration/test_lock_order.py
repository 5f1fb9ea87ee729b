"""What locks both a job and its items takes the job first, then the items, as an erasure
does: a requeue or a decision meeting an erasure of the same item waits for it, where taking
the item first deadlocked (PostgreSQL broke the tie with an error: a 500). Open tasks are
locked before their items, as a claim does: an erasure meeting a claim of its job's tasks
waits for it, or the claim passes the tasks by."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, text, update

from bpo_common.clock import utcnow
from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.errors import Conflict
from bpo_devtools.testing import Tokens, eventually, someone_waits_for_a_lock
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item, Task
from bpo_intake.repository import erasure as erasure_repository
from bpo_intake.service import decisions, erasure
from bpo_intake.service import items as items_service

from .conftest import stored_items
from .keying import keying_job, new_contractor

_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _flagged_item(intake: httpx.AsyncClient, tokens: Tokens, db: SessionFactory) -> Item:
    job = await keying_job(intake, tokens, 1)
    (item,) = await stored_items(db, job["id"])
    async with db() as session, session.begin():
        flagged = update(Item).where(Item.id == item.id).values(flagged_reason="for a manager")
        await session.execute(flagged)
    return item


async def _erase_while(
    db: SessionFactory,
    keys: DataKeys,
    item: Item,
    meanwhile: Callable[[], Coroutine[Any, Any, None]],
) -> asyncio.Task[None]:
    """Erase the item as erase_item does, `meanwhile` started once the erasure holds the job:
    the item's row and its tasks are erased while `meanwhile` waits. Returns its task."""
    async with db() as erasing, erasing.begin():
        await erasing.execute(text("SET LOCAL lock_timeout = '10s'"))
        assert await erasure_repository.lock_job(erasing, item.job_id, None)
        started = asyncio.create_task(meanwhile())
        await someone_waits_for_a_lock(erasing)
        await erasure.erase_item(erasing, keys, item.id, None, "manager", [])
    return started


async def test_a_requeue_waits_for_an_erasure_of_its_item_and_then_finds_it_final(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    item = await _flagged_item(intake, tokens, intake_db)

    async def requeue() -> None:
        async with intake_db() as requeuing, requeuing.begin():
            await items_service.requeue_item(requeuing, item.id, data_keys, personal=True)

    requeuing = await _erase_while(intake_db, data_keys, item, requeue)

    # Rejected as erased, the item is no longer flagged: nothing to requeue.
    with pytest.raises(Conflict, match="this item is not flagged"):
        await requeuing
    (after,) = await stored_items(intake_db, item.job_id)
    assert (after.status, after.flagged_reason) == (ItemStatus.REJECTED, None)


async def test_a_decision_waits_for_an_erasure_of_its_item_and_then_leaves_it_as_erased(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    item = await _flagged_item(intake, tokens, intake_db)
    accepted = validation.ItemAccepted(
        item_id=item.id,
        job_id=item.job_id,
        client_id=item.client_id,
        result={"invoice_number": "A-1", "total": "10", "iban": None},
        decided_at=utcnow(),
    )

    async def decide() -> None:
        async with intake_db() as deciding, deciding.begin():
            await decisions.decide_items(deciding, [accepted], data_keys)

    deciding = await _erase_while(intake_db, data_keys, item, decide)

    await deciding
    (after,) = await stored_items(intake_db, item.job_id)
    assert (after.status, after.result) == (ItemStatus.REJECTED, None)


async def test_a_claim_and_an_erasure_of_its_job_under_way_both_go_through(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await keying_job(intake, tokens, 2)
    first, second = await stored_items(intake_db, job["id"])
    _, keyer = await new_contractor(intake, tokens)
    client = tokens.client(UUID(job["client_id"]))

    async def waiters() -> int:
        async with intake_db() as looking:
            return int(await looking.scalar(_WAITERS) or 0)

    async with intake_db() as holding, holding.begin():
        # The erasure is held up at the second item, as one of a large job is for seconds.
        await holding.execute(select(Item.id).where(Item.id == second.id).with_for_update())
        erasing = asyncio.create_task(intake.delete(f"/v1/jobs/{job['id']}/data", headers=client))
        await someone_waits_for_a_lock(holding)
        claim = {"limit": 1, "job_id": job["id"]}
        claiming = asyncio.create_task(intake.post("/v1/tasks/claim", json=claim, headers=keyer))

        async def claimed_or_waiting() -> bool:
            return claiming.done() or await waiters() > 1

        await eventually(claimed_or_waiting, timeout_s=10, what="the claim under way")

    erased, claimed = await erasing, await claiming
    assert erased.status_code == 202, erased.text
    assert erased.json()["intake"]["erased_at"] is not None
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["tasks"] == [], "the erasure holds the job's open tasks"
    async with intake_db() as session:
        statuses = await session.scalars(select(Task.status).where(Task.item_id == first.id))
        assert list(statuses) == [TaskStatus.CANCELLED]
