"""Match exceptions: validation opens one on an invoice that does not match its order, the
item waits (status `exception`) and the client hears by webhook; the client's resolution
arrives as the item's acceptance or rejection, which finishes it like any other.

The app here lets webhooks go to this machine and stops its own sender; each test sends."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from nats.js import JetStreamContext

from bpo_common.clock import utcnow
from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.events import Event, wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item
from bpo_intake.service import decisions

from .conftest import Send, create_job, stored_items
from .keying import INVOICE_LINES, THREE_WAY_MATCH
from .receiver import load_delivery, receiver, register_hooked_client, verifies

OPENED_AT = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
REASONS = ["line 1: price 9.90 is more than 2% above the order's 9.00"]
LINES: list[dict[str, Any]] = [
    {
        "row": 0,
        "line": 1,
        "outcome": "price_mismatch",
        "reasons": REASONS,
        "invoiced": {"quantity": "2", "price": "9.90"},
        "ordered": {"quantity": "2", "price": "9.00"},
        "received": {"quantity": "2"},
    }
]


async def published(js: JetStreamContext, event: Event, client_id: UUID) -> None:
    """Publish an event as validation does (twice: a redelivered copy must change nothing)."""
    envelope = wrap(event, source="validation", client_id=client_id)
    for _ in range(2):
        await js.publish(envelope.subject, envelope.model_dump_json().encode())


def opened(item: Item, exception_id: UUID) -> validation.ExceptionOpened:
    return validation.ExceptionOpened(
        exception_id=exception_id,
        item_id=item.id,
        job_id=item.job_id,
        client_id=item.client_id,
        outcome="mismatch",
        reasons=REASONS,
        lines=LINES,
        opened_at=OPENED_AT,
    )


async def job_view(api: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> Any:
    return (await api.get(f"/v1/jobs/{job_id}", headers=headers)).json()


async def test_an_exception_holds_the_item_tells_the_client_and_its_resolution_finishes_it(
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens, js: JetStreamContext
) -> None:
    async with receiver(204) as hook:
        client_id, hook.secret = await register_hooked_client(lenient, tokens, hook.url)
        headers = tokens.client(client_id)
        job = await create_job(
            lenient,
            tokens,
            client_id,
            fields=INVOICE_LINES,
            match=THREE_WAY_MATCH,
            items=[{"external_id": f"inv-{n}", "source": {}} for n in (1, 2)],
        )
        await lenient.post(f"/v1/jobs/{job['id']}/close", headers=headers)
        first, second = await stored_items(db, job["id"])
        exception_id = new_id()

        await published(js, opened(first, exception_id), client_id)
        await published(
            js,
            validation.ItemAccepted(
                item_id=second.id,
                job_id=second.job_id,
                client_id=client_id,
                result={"po_number": "PO-2", "lines": []},
                decided_at=utcnow(),
            ),
            client_id,
        )

        async def second_completed() -> bool:
            counts = (await job_view(lenient, job["id"], headers))["counts"]
            return bool(counts["completed"] == 1)

        await eventually(second_completed, what="the other item to be accepted")
        now = utcnow()
        await send(now)

    waiting = await job_view(lenient, job["id"], headers)
    assert waiting["status"] == "closed", "an item waiting on an exception is not final"
    assert waiting["counts"] == {
        "pending": 0,
        "in_progress": 0,
        "in_review": 0,
        "exception": 1,
        "completed": 1,
        "rejected": 0,
        "total": 2,
    }
    assert waiting["progress"] == 0.5
    listed = await lenient.get(
        f"/v1/jobs/{job['id']}/items", params={"status": "exception"}, headers=headers
    )
    (item,) = listed.json()["data"]
    assert (item["id"], item["status"], item["completed_at"]) == (str(first.id), "exception", None)
    assert item["exception"] == {"id": str(exception_id), "reasons": REASONS}
    (request,) = hook.received
    assert verifies(hook.secret, request, now)
    event = json.loads(request.body)
    assert event["type"] == "item.exception"
    assert event["data"] == {
        "exception_id": str(exception_id),
        "job_id": job["id"],
        "item_id": str(first.id),
        "external_id": "inv-1",
        "outcome": "mismatch",
        "reasons": REASONS,
        "lines": LINES,
        "opened_at": "2031-01-02T03:04:05Z",
    }
    delivery = await load_delivery(db, UUID(request.headers["webhook-id"]))
    assert (delivery.event_type, delivery.client_id) == ("item.exception", client_id)

    # The client accepted the invoice as it is: validation accepts the item.
    result = {"po_number": "PO-1", "lines": [{"line": 1, "sku": "A", "qty": "2", "price": "9.90"}]}
    accepted = validation.ItemAccepted(
        item_id=first.id, job_id=first.job_id, client_id=client_id, result=result, decided_at=now
    )
    await published(js, accepted, client_id)

    async def job_completed() -> bool:
        return bool((await job_view(lenient, job["id"], headers))["status"] == "completed")

    await eventually(job_completed, what="the job to complete with the resolved item")
    final = await job_view(lenient, job["id"], headers)
    assert (final["counts"]["exception"], final["counts"]["completed"]) == (0, 2)
    (done,) = [i for i in (await stored_items(db, job["id"])) if i.id == first.id]
    assert (done.status, done.result) == (ItemStatus.COMPLETED, result)
    assert (done.exception_id, done.exception_reasons) == (None, None)
    shown = await lenient.get(
        f"/v1/jobs/{job['id']}/items", params={"status": "completed"}, headers=headers
    )
    assert {i["id"]: i["exception"] for i in shown.json()["data"]} == {
        str(first.id): None,
        str(second.id): None,
    }


async def test_an_exception_about_a_final_item_or_opened_twice_changes_nothing_more(
    lenient: httpx.AsyncClient, db: SessionFactory, tokens: Tokens, data_keys: DataKeys
) -> None:
    client_id, _ = await register_hooked_client(lenient, tokens, "https://hooks.acme.example/ap")
    job = await create_job(
        lenient, tokens, client_id, fields=INVOICE_LINES, items=[{"source": {}}, {"source": {}}]
    )
    first, second = await stored_items(db, job["id"])
    exception_id = new_id()
    rejected = validation.ItemRejected(
        item_id=second.id,
        job_id=second.job_id,
        client_id=client_id,
        reason="a duplicate of invoice inv-7",
        decided_at=OPENED_AT,
    )

    async with db() as session, session.begin():
        await decisions.decide_items(
            session,
            [
                opened(first, exception_id),
                opened(first, exception_id),  # validation published it again
                rejected,
                opened(second, new_id()),
            ],
            data_keys,
        )

    first, second = await stored_items(db, job["id"])
    assert (first.status, first.exception_id) == (ItemStatus.EXCEPTION, exception_id)
    assert first.exception_reasons == REASONS
    assert (second.status, second.exception_id) == (ItemStatus.REJECTED, None)
    deliveries = await lenient.get("/v1/webhooks/deliveries", headers=tokens.client(client_id))
    told = [(d["event_type"], d["payload"]["data"]["item_id"]) for d in deliveries.json()["data"]]
    assert told == [("item.exception", str(first.id)), ("item.rejected", str(second.id))]
