"""Match exceptions the client's own people resolve: billed once, at the price per exception
of the book in force when they were resolved, on invoice lines of their own."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select

from bpo_billing.domain.invoices import UsageKind
from bpo_billing.models import UsageLine
from bpo_common.contracts.billing import UsageRecorded
from bpo_common.db import SessionFactory
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, consumer_drained, eventually, outbox_events

from .conftest import (
    MONTH_START,
    Feed,
    completions,
    draft,
    new_client,
    put_price_book,
    resolved,
    send,
)


async def stored_lines(billing_db: SessionFactory, client_id: UUID) -> list[UsageLine]:
    """The client's usage lines as stored, exceptions after items, each in time order."""
    async with billing_db() as session:
        query = (
            select(UsageLine)
            .where(UsageLine.client_id == client_id)
            .order_by(UsageLine.kind, UsageLine.completed_at)
        )
        return list((await session.scalars(query)).all())


async def usage(
    billing: httpx.AsyncClient, tokens: Tokens, client_id: UUID
) -> list[dict[str, Any]]:
    response = await billing.get(f"/v1/usage?client_id={client_id}", headers=tokens.manager())
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["data"]
    return lines


async def test_an_exception_the_client_resolved_is_billed_once_however_often_it_arrives(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
    feed: Feed,
    js: JetStreamContext,
) -> None:
    """Through JetStream: the same event delivered twice, and the same resolution announced
    again in an event of its own, make one line."""
    client_id = new_id()
    book = await put_price_book(billing, tokens, client_id, per_exception="1.75")
    job = await feed.job(client_id)
    event = resolved(job)
    envelope = wrap(event, source="validation", client_id=client_id)
    announced_again = wrap(event, source="validation", client_id=client_id)
    for copy in (envelope, envelope, announced_again):
        await send(js, copy)

    async def billed() -> bool:
        return len(await usage(billing, tokens, client_id)) == 1

    await eventually(billed, what="the exception's usage line")

    async def drained() -> bool:
        return await consumer_drained(js, "billing")

    # Every copy handled: a second line would have landed by now.
    await eventually(drained, what="billing's consumer to handle every copy")
    (line,) = await stored_lines(billing_db, client_id)
    assert (line.kind, line.exception_id, line.item_id, line.job_id) == (
        UsageKind.EXCEPTION,
        event.exception_id,
        event.item_id,
        job.job_id,
    )
    assert (line.work_type, line.fields, line.completed_at) == ("invoice", 0, event.resolved_at)
    assert (line.price_book_id, line.unit_price, line.amount, line.currency) == (
        UUID(book["id"]),
        Decimal("1.75"),
        Decimal("1.75"),
        "EUR",
    )
    assert line.invoice_id is None
    (shown,) = await usage(billing, tokens, client_id)
    assert {
        key: shown[key] for key in ("kind", "exception_id", "priced", "amount", "currency")
    } == {
        "kind": "exception",
        "exception_id": str(event.exception_id),
        "priced": True,
        "amount": "1.75",
        "currency": "EUR",
    }
    (recorded,) = await outbox_events(
        billing_db, UsageRecorded.event_type, client_id=str(client_id)
    )
    assert (recorded.data["usage_id"], recorded.data["item_id"]) == (
        str(line.id),
        str(event.item_id),
    )
    assert (Decimal(recorded.data["amount"]), recorded.data["currency"]) == (
        Decimal("1.75"),
        "EUR",
    )


async def test_an_exception_the_back_office_resolved_costs_nothing(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, per_exception="1.75")
    await feed.resolved(await feed.job(client_id), by_client=False)
    assert await stored_lines(billing_db, client_id) == []
    assert await usage(billing, tokens, client_id) == []
    assert await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id)) == []


async def test_an_exception_costs_nothing_unless_the_book_in_force_then_prices_it(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    """The first version has no price per exception, the second (from 15 March) has one; a
    client with no price book at all pays nothing either, nor one whose only version, with a
    price per exception, takes effect after the exception was resolved."""
    client_id = await new_client(billing, tokens)
    priced = await put_price_book(
        billing, tokens, client_id, per_exception="0.80", effective_from="2026-03-15"
    )
    job = await feed.job(client_id)
    await feed.resolved(job, at=MONTH_START + timedelta(days=9))  # 10 March
    later = await feed.resolved(job, at=MONTH_START + timedelta(days=19))  # 20 March

    (line,) = await stored_lines(billing_db, client_id)
    assert (line.exception_id, line.price_book_id, line.amount) == (
        later.exception_id,
        UUID(priced["id"]),
        Decimal("0.80"),
    )

    unpriced = new_id()
    await feed.resolved(await feed.job(unpriced))
    assert await stored_lines(billing_db, unpriced) == []

    not_yet = await new_client(billing, tokens, per_exception="2", effective_from="2026-05-01")
    await feed.resolved(await feed.job(not_yet), at=MONTH_START + timedelta(days=19))
    assert await stored_lines(billing_db, not_yet) == []


async def test_an_invoice_bills_resolved_exceptions_on_a_line_of_their_own(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    """Three exceptions at 0.125 EUR beside three items at 0.53: the exceptions' line rounds
    its exact sum once (0.375 -> 0.38), and the late job's SLA credit is a share of its items
    only. One exception is resolved before its item's completion reaches billing: the item
    is billed all the same."""
    client_id = await new_client(billing, tokens, per_exception="0.125")
    job = await feed.job(
        client_id, due_at=MONTH_START + timedelta(hours=12), external_ref="batch-7"
    )
    items = completions(job, 3)
    await feed.resolved(job, item_id=items[0].item_id)
    await feed(*items)
    for item in items[1:]:
        await feed.resolved(job, item_id=item.item_id)
    await feed.resolved(job, item_id=items[2].item_id, by_client=False)
    await feed.job_completed(job, MONTH_START + timedelta(days=5))

    invoice = await draft(billing, tokens, client_id)
    assert invoice["currency"] == "EUR"
    assert [
        (line["kind"], line["description"], line["quantity"], line["unit_price"], line["amount"])
        for line in invoice["lines"]
    ] == [
        ("usage", "invoice items, job batch-7", 3, "0.53", "1.59"),
        ("exception", "Match exceptions resolved, job batch-7", 3, "0.125", "0.38"),
        ("sla_credit", "SLA credit 10%: job batch-7 completed 4.5 days late", 1, "-0.16", "-0.16"),
    ]
    assert invoice["lines"][1]["job_id"] == str(job.job_id)
    # 1.59 + 0.38 - 0.16 = 1.81; tax 1.81 x 0.21 = 0.3801
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("1.81", "0.38", "2.19")

    lines = await stored_lines(billing_db, client_id)
    assert [line.kind for line in lines] == [UsageKind.ITEM] * 3 + [UsageKind.EXCEPTION] * 3
    assert {line.item_id for line in lines[:3]} == {item.item_id for item in items}
    assert all(line.invoice_id == UUID(invoice["id"]) for line in lines)
    assert sum((line.amount or Decimal(0) for line in lines[3:]), Decimal(0)) == Decimal("0.375")
