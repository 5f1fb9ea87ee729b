"""Validation's decisions arrive over JetStream and finish intake's items."""

from datetime import UTC, datetime
from uuid import UUID

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.db import SessionFactory
from bpo_common.events import wrap
from bpo_devtools.testing import Tokens, eventually, outbox_events
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item

from .conftest import create_job, register_client

REACTIVATED = "bpo.intake.contractor.reactivated"


async def test_an_accepted_item_published_by_validation_completes_the_item_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, js: JetStreamContext
) -> None:
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id, items=[{"source": {"page": 1}}])
    async with intake_db() as session:
        item_id = (
            await session.scalars(select(Item.id).where(Item.job_id == UUID(job["id"])))
        ).one()
    decision = wrap(
        validation.ItemAccepted(
            item_id=item_id,
            job_id=UUID(job["id"]),
            client_id=client_id,
            result={"invoice_number": "INV-7", "total": "12.5"},
            decided_at=datetime.now(UTC),
        ),
        source="validation",
        client_id=client_id,
    )
    for _ in range(2):  # a redelivered copy must change nothing
        await js.publish(decision.subject, decision.model_dump_json().encode())

    async def completed() -> bool:
        response = await intake.get(f"/v1/jobs/{job['id']}", headers=tokens.client(client_id))
        return bool(response.json()["counts"]["completed"] == 1)

    await eventually(completed, what="the item to be completed")
    async with intake_db() as session:
        item = await session.get(Item, item_id)
        assert item is not None
        assert item.status is ItemStatus.COMPLETED
        assert item.result == {"invoice_number": "INV-7", "total": "12.5"}
        assert item.completed_at == datetime.fromisoformat(decision.data["decided_at"])


async def test_a_contractor_suspended_by_validation_gets_no_more_work(
    intake: httpx.AsyncClient, tokens: Tokens, js: JetStreamContext
) -> None:
    created = await intake.post(
        "/v1/contractors", json={"name": "Slow Keyer"}, headers=tokens.manager()
    )
    contractor_id = UUID(created.json()["id"])
    event = wrap(
        validation.ContractorSuspended(
            contractor_id=contractor_id,
            reason="accuracy 71% over 200 judged entries, below the 85% floor",
            suspended_at=datetime.now(UTC),
        ),
        source="validation",
    )
    await js.publish(event.subject, event.model_dump_json().encode())

    async def suspended() -> bool:
        response = await intake.get(f"/v1/contractors/{contractor_id}", headers=tokens.manager())
        return bool(response.json()["status"] == ContractorStatus.SUSPENDED.value)

    await eventually(suspended, what="the suspension to reach intake")
    claim = await intake.post("/v1/tasks/claim", json={}, headers=tokens.contractor(contractor_id))
    assert claim.status_code == 403
    assert "below the 85% floor" in claim.json()["detail"]


async def test_a_reactivated_contractor_is_announced_once_and_suspended_again_by_validation(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, js: JetStreamContext
) -> None:
    created = await intake.post("/v1/contractors", json={"name": "Keyer"}, headers=tokens.manager())
    contractor_id = UUID(created.json()["id"])
    contractor = f"/v1/contractors/{contractor_id}"

    async def reactivations() -> list[dict[str, str]]:
        found = await outbox_events(intake_db, REACTIVATED, contractor_id=str(contractor_id))
        return [envelope.data for envelope in found]

    async def suspend(reason: str) -> None:
        event = wrap(
            validation.ContractorSuspended(
                contractor_id=contractor_id, reason=reason, suspended_at=datetime.now(UTC)
            ),
            source="validation",
        )
        await js.publish(event.subject, event.model_dump_json().encode())

        async def applied() -> bool:
            response = await intake.get(contractor, headers=tokens.manager())
            return bool(response.json()["status_reason"] == reason)

        await eventually(applied, what="the suspension to reach intake")

    # Activating a contractor who is active already announces nothing.
    await intake.post(f"{contractor}/activate", headers=tokens.manager())
    assert await reactivations() == []

    first = "accuracy 60.0% over the last 200 judged fields on invoice is below the floor 85.0%"
    await suspend(first)
    before = datetime.now(UTC)
    activated = await intake.post(f"{contractor}/activate", headers=tokens.manager())
    assert (activated.json()["status"], activated.json()["status_reason"]) == ("active", None)
    (reactivated,) = await reactivations()
    assert reactivated["contractor_id"] == str(contractor_id)
    assert before <= datetime.fromisoformat(reactivated["reactivated_at"]) <= datetime.now(UTC)
    claim = await intake.post("/v1/tasks/claim", json={}, headers=tokens.contractor(contractor_id))
    assert claim.status_code == 200, claim.text

    # Validation judges them afresh and suspends them a second time: intake applies it too.
    second = "accuracy 50.0% over the last 50 judged fields on invoice is below the floor 85.0%"
    await suspend(second)
    claim = await intake.post("/v1/tasks/claim", json={}, headers=tokens.contractor(contractor_id))
    assert claim.status_code == 403
    assert second in claim.json()["detail"]
    assert len(await reactivations()) == 1
