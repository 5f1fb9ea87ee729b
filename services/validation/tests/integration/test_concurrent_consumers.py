"""Two replicas' consumers applying the two keyings of one item at the same time still decide
the item: the second waits for the first to commit, then sees both keyings; two runs on a new
adaptive job's first keyings take its ledger one after the other."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_validation.repository import accuracy
from bpo_validation.service import decisions
from bpo_validation.settings import Settings

from .submissions import job_keys, new_job, published


async def test_keyings_of_one_item_applied_at_once_on_two_replicas_are_decided_once(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, mode="double")
    item_id, now = new_id(), datetime.now(UTC)
    first, second = (
        TaskSubmitted(
            task_id=new_id(), job_id=job.job_id, item_id=item_id, client_id=job.client_id,
            work_type=job.work_type, kind=TaskKind.ENTRY, contractor_id=new_id(),
            data={"number": "A-1", "total": "10"}, golden=None, entries_expected=2,
            claimed_at=now, submitted_at=now,
        )
        for _ in range(2)
    )  # fmt: skip

    async with validation_db() as one:
        await decisions.record_submissions(
            one, [first], validation_settings, keys=job_keys(validation_settings)
        )
        # Meanwhile the other replica takes the second keying, in a transaction of its own.
        applying = asyncio.create_task(_apply(validation_db, second, validation_settings))
        done, _ = await asyncio.wait({applying}, timeout=0.5)
        assert not done, "the other replica waits for the first to commit"
        await one.commit()
    await asyncio.wait_for(applying, 10)

    (decision,) = await published(validation_db, item_id)
    assert decision.type == "bpo.validation.item.accepted"
    assert decision.data["result"] == {"number": "A-1", "total": "10", "currency": None}


async def _apply(sessions: SessionFactory, event: TaskSubmitted, settings: Settings) -> None:
    async with sessions() as session, session.begin():
        await decisions.record_submissions(session, [event], settings, keys=job_keys(settings))


async def test_a_new_jobs_ledger_is_locked_by_the_first_run_that_rules_on_it(
    validation_db: SessionFactory,
) -> None:
    # Two replicas' first keyings of a new adaptive job: without a row to lock, each would
    # start a ledger of its own, and the later write would erase the other's items.
    job_id = new_id()
    async with validation_db() as one:
        assert list(await accuracy.ledgers_for_update(one, [job_id], utcnow())) == [job_id]
        async with validation_db() as two, two.begin():
            await two.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await accuracy.ledgers_for_update(two, [job_id], utcnow())
        await one.rollback()
