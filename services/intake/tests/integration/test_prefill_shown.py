"""What machine pre-fill a claim shows its keyer, and that validation is told the same at the
submit (TaskSubmitted's `suggestions`), where an item's first keying is not its first task."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update

from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.models import Item
from bpo_intake.service import tasks

from .conftest import opened_events, stored_items
from .keying import claim_tasks, keying_job, new_contractor

DATA = {"invoice_number": "INV-7", "total": "30.00"}
SUGGESTIONS: dict[str, dict[str, Any]] = {
    name: {"value": value, "confidence": 0.9, "document_id": None, "page": 1, "boxes": []}
    for name, value in DATA.items()
}


async def assisted_item(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, **extraction: Any
) -> tuple[dict[str, Any], UUID]:
    """An assisted job of one item with pre-fill, as extraction stores it once it has read the
    item (with `extraction`'s columns instead): the job, and its item's id."""
    job = await keying_job(intake, tokens, 1, qc={"mode": "assisted"})
    (item,) = await stored_items(intake_db, job["id"])
    read = {"suggestions": SUGGESTIONS, "extracted_at": datetime.now(UTC) - timedelta(hours=1)}
    async with intake_db() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item.id).values(**read | extraction))
    return job, item.id


async def told_validation(
    intake_db: SessionFactory, data_keys: DataKeys, item_id: UUID
) -> dict[str, Any]:
    """The pre-fill the item's submitted entry says its keyer was shown, values opened."""
    (event,) = await opened_events(
        intake_db, data_keys, TaskSubmitted.event_type, item_id=str(item_id)
    )
    shown: dict[str, Any] = event.data["suggestions"]
    return {name: suggestion["value"] for name, suggestion in shown.items()}


async def test_a_first_keying_requeued_after_it_was_given_up_on_shows_the_pre_fill(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, item_id = await assisted_item(intake, tokens, intake_db)
    _, idle = await new_contractor(intake, tokens)
    future = datetime.now(UTC) + timedelta(days=1)
    for _ in range(3):  # its lease runs out three times: given up on, the item flagged
        (first,) = await claim_tasks(intake, idle, job_id=job["id"])
        assert first["suggestions"] == SUGGESTIONS
        async with intake_db() as session, session.begin():
            await tasks.sweep_expired_leases(session, max_attempts=3, now=future)
    requeued = await intake.post(f"/v1/items/{item_id}/requeue", headers=tokens.manager())
    assert requeued.json()["flagged_reason"] is None, requeued.text
    _, keyer = await new_contractor(intake, tokens)

    (afresh,) = await claim_tasks(intake, keyer, job_id=job["id"])
    submitted = await intake.post(
        f"/v1/tasks/{afresh['id']}/submit", json={"data": DATA}, headers=keyer
    )

    assert afresh["id"] != first["id"]
    assert afresh["suggestions"] == SUGGESTIONS, "nobody keyed the item before"
    assert submitted.status_code == 202, submitted.text
    assert await told_validation(intake_db, data_keys, item_id) == DATA


async def test_a_claim_while_the_item_waits_to_be_read_again_shows_no_pre_fill_and_tells_none(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    # Its layout learned more: extraction is to read the item again, its old pre-fill kept.
    job, item_id = await assisted_item(intake, tokens, intake_db, extracted_at=None)
    _, keyer = await new_contractor(intake, tokens)
    keyed = {**keyer, "Idempotency-Key": f"claim-{new_id()}"}

    (task,) = await claim_tasks(intake, keyed, job_id=job["id"])
    (again,) = await claim_tasks(intake, keyed, job_id=job["id"])
    submitted = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": DATA}, headers=keyer
    )

    assert (task["suggestions"], again["suggestions"]) == ({}, {}), "what is to be replaced"
    assert submitted.status_code == 202, submitted.text
    assert await told_validation(intake_db, data_keys, item_id) == {}


async def test_pre_fill_read_again_after_the_claim_is_neither_shown_nor_told(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, item_id = await assisted_item(intake, tokens, intake_db, extracted_at=None)
    _, keyer = await new_contractor(intake, tokens)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    # Extraction reads it again while the keyer keys it: new pre-fill, after the claim.
    later = {name: suggestion | {"confidence": 0.95} for name, suggestion in SUGGESTIONS.items()}
    async with intake_db() as session, session.begin():
        read = {"suggestions": later, "extracted_at": datetime.now(UTC)}
        await session.execute(update(Item).where(Item.id == item_id).values(**read))

    submitted = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": DATA}, headers=keyer
    )

    assert task["suggestions"] == {}
    assert submitted.status_code == 202, submitted.text
    assert await told_validation(intake_db, data_keys, item_id) == {}
