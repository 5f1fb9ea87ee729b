"""Retention erases each job of its batch in a savepoint of its own: a job whose erasure
fails is passed over for a day, and the others are erased all the same, even when a whole
batch's worth of jobs fail."""

from datetime import timedelta
from uuid import UUID

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select, text, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens
from bpo_intake.domain.erasure import RETRY_FAILED_AFTER, RetentionFailures
from bpo_intake.models import Item, Job
from bpo_intake.service import erasure
from bpo_intake.settings import Settings

from .conftest import create_job, register_client


async def _sources(sessions: SessionFactory, job_id: str) -> list[dict[str, object]]:
    async with sessions() as session:
        query = select(Item.source).where(Item.job_id == UUID(job_id))
        return list((await session.execute(query)).scalars())


async def test_a_batch_of_jobs_whose_erasure_fails_holds_up_no_other(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    client_id = await register_client(intake, tokens, "Forgets In Time Ltd")
    names = [f"stuck-{n}" for n in range(erasure.RETENTION_BATCH)] + ["erased"]
    jobs = {}
    for name in names:  # the stuck first: a pass takes the oldest jobs first
        items = [{"external_id": name, "source": {"invoice_number": f"{name}-{new_id().hex}"}}]
        jobs[name] = (await create_job(intake, tokens, client_id, items=items))["id"]
        cancelled = await intake.post(
            f"/v1/jobs/{jobs[name]}/cancel", headers=tokens.client(client_id)
        )
        assert cancelled.status_code == 200, cancelled.text
    stuck = [UUID(jobs[name]) for name in names[:-1]]
    refused = ",".join(f"'{job_id}'::uuid" for job_id in stuck)
    refuse = (
        "CREATE FUNCTION refuse_test_erasure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.job_id IN ({refused}) THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$"
    )
    async with intake_db() as session, session.begin():
        long_ago = utcnow() - timedelta(days=400)
        ended = update(Job).where(Job.id.in_([UUID(j) for j in jobs.values()]))
        await session.execute(ended.values(cancelled_at=long_ago))
        await session.execute(text(refuse))
        await session.execute(
            text(
                "CREATE TRIGGER refuse_test_erasure BEFORE INSERT ON erasure "
                "FOR EACH ROW EXECUTE FUNCTION refuse_test_erasure()"
            )
        )
    keys = stack.settings(Settings, "intake").data_keys()
    failures = RetentionFailures()
    counted = REGISTRY.get_sample_value("bpo_retention_erasures_failed_total") or 0
    try:
        for _ in range(10):  # other modules' jobs may be due before these
            async with intake_db() as session, session.begin():
                due = await erasure.erase_past_retention(session, keys, 365, utcnow(), [], failures)
            if await _sources(intake_db, jobs["erased"]) == [{}] or not due:
                break
    finally:
        async with intake_db() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_test_erasure ON erasure"))
            await session.execute(text("DROP FUNCTION refuse_test_erasure()"))

    assert await _sources(intake_db, jobs["erased"]) == [{}]
    assert set(stuck) <= set(failures.failed_at), "each failure remembered"
    assert REGISTRY.get_sample_value("bpo_retention_erasures_failed_total") == counted + len(stuck)
    for job_id in stuck:
        assert (await _sources(intake_db, str(job_id)))[0] != {}, "left for a later pass"
    async with intake_db() as session, session.begin():
        await erasure.erase_past_retention(session, keys, 365, utcnow(), [], failures)
    assert (await _sources(intake_db, str(stuck[0])))[0] != {}, "passed over for a day"
    a_day_later = utcnow() + RETRY_FAILED_AFTER + timedelta(minutes=1)
    for _ in range(10):
        async with intake_db() as session, session.begin():
            await erasure.erase_past_retention(session, keys, 365, a_day_later, [], failures)
        if all([await _sources(intake_db, str(job_id)) == [{}] for job_id in stuck]):
            break
    for job_id in stuck:
        assert await _sources(intake_db, str(job_id)) == [{}], "erased once it can be"
