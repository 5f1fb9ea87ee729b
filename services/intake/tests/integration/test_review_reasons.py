"""A review or adjudication task says why validation asked for it: its reviewer is told what to
look at (the reference check that failed, the field a verifier changed)."""

from datetime import UTC, datetime
from uuid import UUID

import httpx
from sqlalchemy import update

from bpo_common.contracts import validation
from bpo_common.contracts.intake import Entry
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item, Task
from bpo_intake.service import decisions

from .keying import claim_tasks, lease_a_task, new_contractor, past

REASON = "reference check: invoice_number INV-9 is not in invoices"


async def test_a_review_claimed_says_why_it_is_under_review_and_keeps_it_when_requeued(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, keyer_id, keyer, task = await lease_a_task(intake, tokens, due_at=past(-400))
    data = {"invoice_number": "INV-9", "total": "10"}
    await intake.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)
    item_id = UUID(task["item_id"])
    entry = Entry(task_id=UUID(task["id"]), contractor_id=keyer_id, data=data)
    review = validation.ReviewRequired(
        item_id=item_id, job_id=UUID(job["id"]), client_id=UUID(job["client_id"]),
        kind="review", entries=[entry], reason=REASON, decided_at=datetime.now(UTC),
    )  # fmt: skip
    async with intake_db() as session, session.begin():
        await decisions.decide_items(session, [review], data_keys)
    _, reviewer = await new_contractor(intake, tokens, "qc")

    (given,) = await claim_tasks(intake, reviewer, kinds=["review"], job_id=job["id"])

    assert (given["kind"], given["reason"]) == ("review", REASON)
    # Given up on (its lease kept expiring), the review is made afresh by a requeue.
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Task)
            .where(Task.id == UUID(given["id"]))
            .values(status=TaskStatus.CANCELLED, attempts=3)
        )
        flag = update(Item).where(Item.id == item_id).values(flagged_reason="expired")
        await session.execute(flag)
    requeued = await intake.post(f"/v1/items/{item_id}/requeue", headers=tokens.manager())
    assert requeued.status_code == 200, requeued.text
    _, another = await new_contractor(intake, tokens, "qc")  # the first held the item
    (afresh,) = await claim_tasks(intake, another, kinds=["review"], job_id=job["id"])
    assert (afresh["id"] != given["id"], afresh["reason"]) == (True, REASON)
