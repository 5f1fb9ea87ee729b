"""Controls drawn at claim against what runs beside them: a job being withdrawn (a close,
cancel or erasure holds it) gets no control, a pool item being erased is not copied, and two
claims at once by one keyer never copy them the same pool item."""

import asyncio
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import Select, func, select, update

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, someone_waits_for_a_lock
from bpo_intake.models import Item, Job
from bpo_intake.repository import documents as documents_repository
from bpo_intake.service import erasure

from .conftest import register_client, stored_items
from .controlled import (
    accept,
    client_with_controls,
    control_job,
    known_item,
    submit_typed,
)
from .keying import claim_tasks, new_contractor

SKILL = f"control-races-{new_id().hex[-8:]}"
# Long enough for a claim that does not wait for the job to have answered many times over.
CLAIM_ANSWERS_WITHIN_S = 10


async def _a_job_of_controls_and_a_keyer(
    intake: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, keys: DataKeys
) -> tuple[UUID, dict[str, Any], str, dict[str, str]]:
    """A client with a pool of one control, its job of one real item at golden rate 1, that
    item's id, and a keyer's headers."""
    client_id = await client_with_controls(intake, tokens, db, keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    (real,) = [str(item.id) for item in await stored_items(db, job["id"])]
    _, keyer = await new_contractor(intake, tokens, SKILL)
    return client_id, job, real, keyer


async def test_a_claim_puts_no_control_into_a_job_a_withdrawal_holds(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    _, job, real, keyer = await _a_job_of_controls_and_a_keyer(intake, tokens, intake_db, data_keys)

    async with intake_db() as session, session.begin():
        # As a cancel or an erasure holds the job while it withdraws its work.
        await session.execute(select(Job).where(Job.id == job["id"]).with_for_update())
        claim = asyncio.ensure_future(claim_tasks(intake, keyer, job_id=job["id"]))
        (task,) = await asyncio.wait_for(claim, CLAIM_ANSWERS_WITHIN_S)

    assert task["item_id"] == real, "the keyer gets the job's own item, not a control"
    async with intake_db() as session:
        copies = await session.scalar(
            select(func.count()).where(Item.job_id == job["id"], Item.control_of.is_not(None))
        )
    assert copies == 0


async def test_a_claim_gets_its_control_while_an_upload_holds_the_job(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    _, job, real, keyer = await _a_job_of_controls_and_a_keyer(intake, tokens, intake_db, data_keys)

    async with intake_db() as session, session.begin():
        assert await documents_repository.lock_job(session, UUID(job["id"]), None) is not None
        claim = claim_tasks(intake, keyer, job_id=job["id"])
        (task,) = await asyncio.wait_for(claim, CLAIM_ANSWERS_WITHIN_S)

    assert task["item_id"] != real, "a control, as at any other time"


async def test_a_claim_copies_no_pool_item_an_erasure_is_changing(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id, job, real, keyer = await _a_job_of_controls_and_a_keyer(
        intake, tokens, intake_db, data_keys
    )

    async with intake_db() as session, session.begin():
        # As an erasure (or retention) holds the pool item while it erases its values.
        await session.execute(
            update(Item)
            .where(Item.client_id == client_id, Item.golden.is_not(None))
            .values(flagged_reason=None)
        )
        claim = claim_tasks(intake, keyer, job_id=job["id"])
        (task,) = await asyncio.wait_for(claim, CLAIM_ANSWERS_WITHIN_S)

    assert task["item_id"] == real, "the keyer gets the job's own item, not a copy"


async def test_two_claims_at_once_by_one_keyer_never_copy_them_the_same_pool_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 6, "1", skill=SKILL)
    _, keyer = await new_contractor(intake, tokens, SKILL)

    claimed = await asyncio.gather(
        *(claim_tasks(intake, keyer, job_id=job["id"]) for _ in range(6))
    )

    # Claims at once skip each other's tasks rather than wait: some may come back empty.
    assert sum(len(tasks) for tasks in claimed) >= 2, "two draws at once, or no race"
    async with intake_db() as session:
        copies = list(
            await session.scalars(
                select(Item.control_of).where(
                    Item.job_id == job["id"], Item.control_of.is_not(None)
                )
            )
        )
    assert len(copies) == 1, "the one pool item, copied once for the keyer"


async def test_an_erasure_locks_an_older_job_its_item_was_copied_into_first_as_decisions_do(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await register_client(intake, tokens)
    older = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    pool = await control_job(intake, tokens, client_id, 0, "0", extra=[known_item(0)], skill=SKILL)
    _, keyer = await new_contractor(intake, tokens, SKILL)
    (known,) = await claim_tasks(intake, keyer, job_id=pool["id"])
    await submit_typed(intake, keyer, known["id"])
    await accept(intake_db, data_keys, pool, known["item_id"])
    _, other = await new_contractor(intake, tokens, SKILL)
    (copy,) = await claim_tasks(intake, other, job_id=older["id"])
    assert copy["source"] == known_item(0)["source"], "a copy of the pool item, in the older job"

    async def erase() -> None:
        async with intake_db() as session, session.begin():
            await erasure.erase_item(session, data_keys, UUID(known["item_id"]), None, "m", [])

    async with intake_db() as deciding, deciding.begin():
        # A decision on items of both jobs locks them in id order: the older first.
        await deciding.execute(_job_as_decisions_lock(older["id"]))
        erasing = asyncio.ensure_future(erase())
        await someone_waits_for_a_lock(deciding)
        # The erasure waits for the older job before it takes the pool's: no deadlock.
        await asyncio.wait_for(deciding.execute(_job_as_decisions_lock(pool["id"])), 10)
    await asyncio.wait_for(erasing, CLAIM_ANSWERS_WITHIN_S)

    async with intake_db() as session:
        erased = await session.get(Item, UUID(copy["item_id"]))
    assert erased is not None
    assert erased.source == {}, "the copy erased with its original"


def _job_as_decisions_lock(job_id: str) -> Select[Job]:
    return select(Job).where(Job.id == UUID(job_id)).with_for_update(key_share=True)
