"""Retention erases each job of its batch in a savepoint of its own: a job whose erasure
fails is left for the next pass, and the others of the batch are erased all the same."""

from datetime import timedelta
from uuid import UUID

import httpx
from sqlalchemy import select, text, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens
from bpo_intake.models import Item, Job
from bpo_intake.service import erasure
from bpo_intake.settings import Settings

from .conftest import create_job, register_client


async def _sources(sessions: SessionFactory, job_id: str) -> list[dict[str, object]]:
    async with sessions() as session:
        query = select(Item.source).where(Item.job_id == UUID(job_id))
        return list((await session.execute(query)).scalars())


async def test_a_job_whose_erasure_fails_holds_up_no_other(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    client_id = await register_client(intake, tokens, "Forgets In Time Ltd")
    jobs = {}
    for name in ("stuck", "erased"):
        items = [{"external_id": name, "source": {"invoice_number": f"{name}-{new_id().hex}"}}]
        jobs[name] = (await create_job(intake, tokens, client_id, items=items))["id"]
        cancelled = await intake.post(
            f"/v1/jobs/{jobs[name]}/cancel", headers=tokens.client(client_id)
        )
        assert cancelled.status_code == 200, cancelled.text
    refuse = (
        "CREATE FUNCTION refuse_test_erasure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.job_id = '{jobs['stuck']}'::uuid THEN RAISE EXCEPTION 'refused'; END IF; "
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
    try:
        for _ in range(10):  # other modules' jobs may be due before these
            async with intake_db() as session, session.begin():
                due, _ = await erasure.erase_past_retention(session, keys, 365, utcnow(), [])
            if await _sources(intake_db, jobs["erased"]) == [{}] or not due:
                break
    finally:
        async with intake_db() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_test_erasure ON erasure"))
            await session.execute(text("DROP FUNCTION refuse_test_erasure()"))

    assert await _sources(intake_db, jobs["erased"]) == [{}]
    assert (await _sources(intake_db, jobs["stuck"]))[0] != {}, "left for the next pass"
    async with intake_db() as session, session.begin():
        await erasure.erase_past_retention(session, keys, 365, utcnow(), [])
    assert await _sources(intake_db, jobs["stuck"]) == [{}], "erased once it can be"
