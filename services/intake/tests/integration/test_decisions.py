"""Validation's decisions arrive over JetStream and finish intake's items."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select, text

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_devtools.testing import Tokens, eventually, outbox_events
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item, JobAccuracy
from bpo_intake.repository import items as items_repository
from bpo_intake.service import decisions

from .conftest import create_job, register_client, scan_items, stored_items
from .receiver import register_hooked_client

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


async def test_a_decision_does_not_wait_for_an_upload_of_items_to_its_job(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """An append holds its job for the whole upload (a slow client streams for minutes): the
    decisions on the job's items go on meanwhile, instead of holding up the consumer."""
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id, items=[{"source": {"page": 1}}])
    (stored,) = await stored_items(intake_db, job["id"])
    item_id = stored.id
    accepted = validation.ItemAccepted(
        item_id=item_id, job_id=UUID(job["id"]), client_id=client_id,
        result={"invoice_number": "INV-8", "total": "1"}, decided_at=datetime.now(UTC),
    )  # fmt: skip
    async with intake_db() as uploading, uploading.begin():
        assert await items_repository.lock_job_for_items(uploading, UUID(job["id"]), None)
        async with intake_db() as deciding, deciding.begin():
            await deciding.execute(text("SET LOCAL lock_timeout = '2s'"))
            await decisions.decide_items(deciding, [accepted], data_keys)
    async with intake_db() as session:
        item = await session.get(Item, item_id)
    assert item is not None
    assert item.status is ItemStatus.COMPLETED


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


def _accuracy_delivered(
    job_id: UUID, client_id: UUID, *, met: bool, decided_at: datetime, estimate: float = 0.97
) -> Envelope:
    event = validation.JobAccuracyDelivered(
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        target=Decimal("0.98"),
        items=40,
        single_keyed=31,
        keyed_twice=9,
        estimate=estimate,
        lower=0.9412,
        upper=0.9988,
        assured=0.9458,
        met=met,
        decided_at=decided_at,
    )
    return wrap(event, source="validation", client_id=client_id)


async def test_the_accuracy_an_adaptive_job_delivered_shows_with_the_job_and_flags_a_miss(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, js: JetStreamContext
) -> None:
    client_id = await register_client(intake, tokens)
    adaptive = {"mode": "adaptive", "target_accuracy": "0.98"}
    missed = await create_job(intake, tokens, client_id, qc=adaptive, items=scan_items(1))
    met = await create_job(intake, tokens, client_id, qc=adaptive)
    double = await create_job(intake, tokens, client_id)
    assert missed["accuracy"] is None  # nothing is known of it yet
    job_id = UUID(missed["id"])
    headers = tokens.client(client_id)
    async with intake_db() as session:
        item_id = (await session.scalars(select(Item.id).where(Item.job_id == job_id))).one()
    accepted = wrap(
        validation.ItemAccepted(
            item_id=item_id,
            job_id=job_id,
            client_id=client_id,
            result={"invoice_number": "INV-7", "total": "12.5"},
            decided_at=datetime.now(UTC),
        ),
        source="validation",
        client_id=client_id,
    )
    await js.publish(accepted.subject, accepted.model_dump_json().encode())

    async def completed() -> bool:
        response = await intake.get(f"/v1/jobs/{job_id}", headers=headers)
        return bool(response.json()["counts"]["completed"] == 1)

    await eventually(completed, what="the item to be completed")
    closed = await intake.post(f"/v1/jobs/{job_id}/close", headers=headers)
    assert closed.json()["status"] == "completed"

    decided_at = datetime.now(UTC).replace(microsecond=0)
    other_client = await register_client(intake, tokens, "Other Co")
    events = [
        # Naming another client than the job's: nothing is kept of it.
        _accuracy_delivered(job_id, other_client, met=True, decided_at=decided_at, estimate=1.0),
        _accuracy_delivered(job_id, client_id, met=False, decided_at=decided_at),
        # An earlier estimate arriving late does not replace the one kept.
        _accuracy_delivered(
            job_id, client_id, met=True, decided_at=decided_at - timedelta(hours=1), estimate=0.99
        ),
        _accuracy_delivered(UUID(met["id"]), client_id, met=True, decided_at=decided_at),
    ]
    for event in [*events, events[1]]:  # a redelivered copy changes nothing
        await js.publish(event.subject, event.model_dump_json().encode())

    async def shown() -> bool:
        response = await intake.get(f"/v1/jobs/{met['id']}", headers=headers)
        return response.json()["accuracy"] is not None

    await eventually(shown, what="the delivered accuracy to reach intake")
    async with intake_db() as session:
        row = await session.get(JobAccuracy, job_id)
        assert row is not None
        assert (row.target, row.items, row.single_keyed, row.keyed_twice) == (
            Decimal("0.98"),
            40,
            31,
            9,
        )
        assert (row.estimate, row.lower, row.upper, row.assured) == (0.97, 0.9412, 0.9988, 0.9458)
        assert (row.met, row.decided_at) == (False, decided_at)

    # The client finds it with the job it reads the results of, the results as they were.
    job = (await intake.get(f"/v1/jobs/{job_id}", headers=headers)).json()
    assert job["accuracy"] == {
        "target": "0.98",
        "estimate": 0.97,
        "lower": 0.9412,
        "upper": 0.9988,
        "assured": 0.9458,
        "met": False,
        "items": 40,
        "single_keyed": 31,
        "keyed_twice": 9,
        "decided_at": decided_at.isoformat().replace("+00:00", "Z"),
    }
    results = await intake.get(f"/v1/jobs/{job_id}/results", headers=headers)
    assert [(record["item_id"], record["data"]) for record in results.json()] == [
        (str(item_id), {"invoice_number": "INV-7", "total": "12.5", "issued_on": None})
    ]
    double_job = (await intake.get(f"/v1/jobs/{double['id']}", headers=headers)).json()
    assert double_job["accuracy"] is None

    # Managers (and the client) list the flagged job apart.
    for who in (tokens.manager(), headers):
        flagged = await _listed(intake, who, flagged="true")
        assert missed["id"] in flagged
        assert not {met["id"], double["id"]} & set(flagged)
        others = await _listed(intake, who, flagged="false")
        assert {met["id"], double["id"]} <= set(others)
        assert missed["id"] not in others
    assert await _listed(intake, tokens.client(other_client), flagged="true") == {}


async def _listed(
    intake: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, dict[str, Any]]:
    """The jobs the caller lists with these filters, by id, following next_cursor."""
    jobs: dict[str, dict[str, Any]] = {}
    query: dict[str, str] = {**params, "limit": "500"}
    while True:
        page = (await intake.get("/v1/jobs", params=query, headers=headers)).json()
        jobs |= {job["id"]: job for job in page["data"]}
        if page["next_cursor"] is None:
            return jobs
        query["cursor"] = page["next_cursor"]


async def test_the_client_hears_by_webhook_what_its_adaptive_job_delivered_once(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id, _ = await register_hooked_client(intake, tokens, "https://hooks.acme.example/qc")
    adaptive = {"mode": "adaptive", "target_accuracy": "0.98"}
    job = await create_job(intake, tokens, client_id, qc=adaptive, external_ref="PO batch 7")
    job_id = UUID(job["id"])
    decided_at = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    told = [
        _accuracy_delivered(job_id, client_id, met=False, decided_at=decided_at),
        # An earlier estimate arriving late: not kept, not told.
        _accuracy_delivered(job_id, client_id, met=True, decided_at=decided_at - timedelta(1)),
    ]

    for envelope in told:
        event = validation.JobAccuracyDelivered.model_validate(envelope.data)
        async with intake_db() as session, session.begin():
            await decisions.record_job_accuracy(session, event)

    response = await intake.get("/v1/webhooks/deliveries", headers=tokens.client(client_id))
    (delivery,) = [d for d in response.json()["data"] if d["event_type"] == "job.accuracy"]
    assert delivery["payload"]["data"] == {
        "job_id": str(job_id),
        "external_ref": "PO batch 7",
        "target": "0.98",
        "items": 40,
        "single_keyed": 31,
        "keyed_twice": 9,
        "estimate": 0.97,
        "lower": 0.9412,
        "upper": 0.9988,
        "assured": 0.9458,
        "met": False,
        "decided_at": "2031-01-02T03:04:05Z",
    }
