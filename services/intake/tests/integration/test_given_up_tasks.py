"""A requeue makes afresh the task the lease sweep gave up on, as it was, whatever
BPO_INTAKE_MAX_ATTEMPTS says by then."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from bpo_common.contracts import validation
from bpo_common.contracts.intake import Entry
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, Tokens, serve
from bpo_intake.app import create_app
from bpo_intake.service import tasks
from bpo_intake.settings import Settings

from .keying import claim_tasks, lease_a_task, new_contractor, past
from .test_reviews_and_decisions import about, decide


@pytest.fixture(scope="module")
async def more_attempts(stack: TestStack) -> AsyncIterator[httpx.AsyncClient]:
    """Intake restarted with BPO_INTAKE_MAX_ATTEMPTS raised from 3 to 5."""
    async with serve(create_app(stack.settings(Settings, "intake", max_attempts=5))) as client:
        yield client


async def test_a_review_given_up_before_the_attempts_were_raised_is_requeued_as_a_review(
    intake: httpx.AsyncClient,
    more_attempts: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    data_keys: DataKeys,
) -> None:
    job, keyer_id, keyer, task = await lease_a_task(intake, tokens, "qc", due_at=past(-400))
    data = {"invoice_number": "INV-3", "total": "30"}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)
    entries = [Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)]
    review = validation.ReviewRequired(
        **about(job, UUID(task["item_id"])),
        kind="review",
        entries=entries,
        reason="sampled for review",
        decided_at=datetime.now(UTC),
    )
    await decide(intake_db, data_keys, review)
    _, reviewer = await new_contractor(intake, tokens, "qc")
    future = datetime.now(UTC) + timedelta(days=1)
    for _ in range(3):  # the review's lease runs out three times: given up, the item flagged
        (held,) = await claim_tasks(intake, reviewer, job_id=job["id"])
        async with intake_db() as session, session.begin():
            await tasks.sweep_expired_leases(session, max_attempts=3, now=future)

    requeued = await more_attempts.post(
        f"/v1/items/{task['item_id']}/requeue", headers=tokens.manager()
    )

    assert requeued.json()["flagged_reason"] is None, requeued.text
    (afresh,) = await claim_tasks(intake, reviewer, job_id=job["id"])
    assert (afresh["kind"], afresh["id"] != held["id"]) == ("review", True)
    entry = {"task_id": task["id"], "kind": "entry", "contractor_id": str(keyer_id)}
    assert afresh["entries"] == [{**entry, "data": data, "unreadable": None}]
