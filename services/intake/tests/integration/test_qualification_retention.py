"""A qualification's set outlives its job's data retention while a qualification names it:
its copies are made and keyed from its items; once none does, retention erases it."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx

from bpo_common.clock import utcnow
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens
from bpo_intake.domain.erasure import RetentionFailures
from bpo_intake.models import Job
from bpo_intake.service import erasure

from .conftest import stored_items
from .controlled import accept, known_item, submit_typed
from .keying import claim_tasks, new_contractor
from .qualified import qualification, single_job, skill_for


async def _completed(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keys: DataKeys,
    job: dict[str, Any],
) -> None:
    """Each of the job's items keyed and accepted, and the job closed: it completes now."""
    work_type = job["work_type"]
    _, keyer = await new_contractor(intake, tokens, skill_for(work_type), work_type)
    for _ in range(len(await stored_items(sessions, job["id"]))):
        (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
        await submit_typed(intake, keyer, task["id"])
        await accept(sessions, keys, job, task["item_id"])
    client = tokens.client(UUID(job["client_id"]))
    closed = await intake.post(f"/v1/jobs/{job['id']}/close", headers=client)
    assert closed.json()["status"] == "completed", closed.text


async def _retention_runs(sessions: SessionFactory, keys: DataKeys, days_later: int) -> None:
    """The retention loop's passes `days_later` days from now, until nothing is due."""
    failures = RetentionFailures()
    later = utcnow() + timedelta(days=days_later)
    due = True
    while due:
        async with sessions() as session, session.begin():
            due = bool(await erasure.erase_past_retention(session, keys, 365, later, [], failures))


async def _erased(sessions: SessionFactory, job: dict[str, Any]) -> bool:
    async with sessions() as session:
        stored = await session.get(Job, UUID(job["id"]))
    assert stored is not None
    return stored.data_key is None


async def test_a_sets_job_is_kept_past_its_retention_while_a_qualification_names_it(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    work_type, known, waiting = await qualification(intake, tokens, 2)
    client_id = UUID(known["client_id"])
    other = await single_job(intake, tokens, client_id, work_type, [known_item(7)])
    for job in (known, other):
        await _completed(intake, tokens, intake_db, data_keys, job)
    retention = {"retention_days": 1}
    url = f"/v1/clients/{client_id}/retention"
    assert (await intake.put(url, json=retention, headers=tokens.manager())).is_success

    await _retention_runs(intake_db, data_keys, days_later=2)

    assert await _erased(intake_db, other), "the client's other job ended as long ago"
    assert not await _erased(intake_db, known)
    assert all(item.golden for item in await stored_items(intake_db, known["id"]))
    url = f"/v1/work-types/{work_type}/qualification"
    shown = await intake.get(url, headers=tokens.manager())
    assert shown.json()["items"] == 2
    keyer = await new_contractor(intake, tokens, skill_for(work_type))
    (task,) = await claim_tasks(intake, keyer[1], job_id=waiting["id"])
    assert task["job_id"] == known["id"], "a contractor can still qualify"

    # Once the qualification names another set, the old one goes at the next pass.
    replaced = await single_job(intake, tokens, client_id, work_type, [known_item(8)])
    put = await intake.put(url, json={"job_id": replaced["id"]}, headers=tokens.manager())
    assert put.status_code == 200, put.text
    await _retention_runs(intake_db, data_keys, days_later=2)
    assert await _erased(intake_db, known)
