"""From draft to finalized or void: gap-free numbers, immutability, what a client sees."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from bpo_billing.models import Invoice, InvoiceCounter, InvoiceLine, Series
from bpo_common.contracts.billing import InvoiceFinalized, InvoiceVoided
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, assert_problem, outbox_events

from .conftest import (
    MONTH_START,
    Feed,
    client_with_usage,
    draft,
    draft_body,
    finalize,
    finalized_invoice,
    new_client,
)


async def test_concurrent_finalizations_take_consecutive_numbers_without_gaps(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    drafts = []
    for _ in range(6):
        client_id = await client_with_usage(billing, tokens, feed, 1)
        drafts.append(await draft(billing, tokens, client_id))
    responses = await asyncio.gather(
        *[
            billing.post(f"/v1/invoices/{d['id']}/finalize", headers=tokens.manager())
            for d in drafts
        ],
        # Finalizing one twice at once: one of the two wins.
        billing.post(f"/v1/invoices/{drafts[0]['id']}/finalize", headers=tokens.manager()),
    )
    assert sorted(r.status_code for r in responses) == [200] * 6 + [409]
    numbers = sorted(r.json()["number"] for r in responses if r.status_code == 200)
    year = numbers[0][:4]
    sequence = [int(number.split("-")[1]) for number in numbers]
    assert all(number.startswith(f"{year}-") and len(number) == 11 for number in numbers)
    assert sequence == list(range(sequence[0], sequence[0] + 6))
    async with billing_db() as session:
        last = await session.scalar(
            select(InvoiceCounter.last_number).where(
                InvoiceCounter.series == Series.INVOICE, InvoiceCounter.year == int(year)
            )
        )
        # No number was skipped: every one up to the counter went to an invoice.
        given = await session.scalar(select(func.count()).where(Invoice.number.like(f"{year}-%")))
    assert last == sequence[-1] == given
    events = await outbox_events(
        billing_db, InvoiceFinalized.event_type, invoice_id=drafts[1]["id"]
    )
    assert [e.data["number"] for e in events] == [
        next(
            r.json()["number"]
            for r in responses
            if r.status_code == 200 and r.json()["id"] == drafts[1]["id"]
        )
    ]


async def test_a_finalized_invoice_never_changes_and_late_usage_goes_on_the_next(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    job = await feed.job(client_id)
    await feed.items(job, 4)
    march = await finalized_invoice(billing, tokens, client_id)
    url = f"/v1/invoices/{march['id']}"
    before = (await billing.get(url, headers=tokens.manager())).json()

    # An item completed in March arrives after March was invoiced.
    await feed.items(job, 1, at=MONTH_START + timedelta(days=20))
    assert_problem(await billing.post(f"{url}/finalize", headers=tokens.manager()), 409)
    again = await billing.post("/v1/invoices", json=draft_body(client_id), headers=tokens.manager())
    assert again.status_code == 201  # a new draft for the late line; March's stays as it was
    assert [line["quantity"] for line in again.json()["lines"]] == [1]
    after = (await billing.get(url, headers=tokens.manager())).json()
    assert after == before
    assert before["lines"][0]["quantity"] == 4

    # Not even a statement that bypasses the service can change it.
    for statement in [
        update(Invoice).where(Invoice.id == march["id"]).values(total=Decimal("1")),
        delete(InvoiceLine).where(InvoiceLine.invoice_id == march["id"]),
    ]:
        with pytest.raises(DBAPIError, match="never change"):
            async with billing_db() as session, session.begin():
                await session.execute(statement)
    assert (await billing.get(url, headers=tokens.manager())).json() == before


async def test_void_only_while_unpaid_and_its_usage_goes_on_the_next_draft(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(billing, tokens, feed, 3)
    invoice = await finalized_invoice(billing, tokens, client_id)
    voided = await billing.post(
        f"/v1/invoices/{invoice['id']}/void",
        json={"reason": "wrong client"},
        headers=tokens.manager(),
    )
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["void_reason"]) == ("void", "wrong client")
    assert voided.json()["amount_due"] == "0.00", "nothing is owed on a void invoice"
    listed = await billing.get(f"/v1/invoices?client_id={client_id}", headers=tokens.manager())
    (summary,) = [row for row in listed.json()["data"] if row["id"] == invoice["id"]]
    assert summary["amount_due"] == "0.00"
    assert voided.json()["number"] == invoice["number"]  # the number stays used: no gap
    events = await outbox_events(billing_db, InvoiceVoided.event_type, invoice_id=invoice["id"])
    assert [e.data["reason"] for e in events] == ["wrong client"]
    assert_problem(
        await billing.post(f"/v1/invoices/{invoice['id']}/void", json={"reason": "again"},
                           headers=tokens.manager()),
        409,
    )  # fmt: skip
    redrafted = await draft(billing, tokens, client_id)
    assert redrafted["id"] != invoice["id"]
    assert [line["quantity"] for line in redrafted["lines"]] == [3]


async def test_an_invoice_of_nothing_to_pay_is_settled_as_issued_and_can_be_voided(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(
        billing, tokens, feed, 2, rates={"invoice": {"per_item": "0"}}
    )
    invoice = await finalized_invoice(billing, tokens, client_id)
    assert (invoice["status"], invoice["total"]) == ("paid", "0.00")

    voided = await billing.post(
        f"/v1/invoices/{invoice['id']}/void", json={"reason": "free by mistake"},
        headers=tokens.manager(),
    )  # fmt: skip

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "void"
    assert [line["quantity"] for line in (await draft(billing, tokens, client_id))["lines"]] == [2]


async def test_a_client_sees_only_its_own_invoices_and_cannot_manage_them(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    mine, theirs = [await client_with_usage(billing, tokens, feed, 1) for _ in range(2)]
    my_invoice = await draft(billing, tokens, mine)
    their_invoice = await draft(billing, tokens, theirs)
    as_mine = tokens.client(mine)
    my_url = f"/v1/invoices/{my_invoice['id']}"

    # A draft is the back office's until it is finalized: the client does not see it yet.
    assert_problem(await billing.get(my_url, headers=as_mine), 404)
    listed = (await billing.get("/v1/invoices?limit=500", headers=as_mine)).json()["data"]
    assert my_invoice["id"] not in {invoice["id"] for invoice in listed}
    assert_problem(await billing.post(f"{my_url}/finalize", headers=as_mine), 403)
    assert_problem(await billing.post("/v1/invoices", json=draft_body(mine), headers=as_mine), 403)

    await finalize(billing, tokens, my_invoice["id"])
    await finalize(billing, tokens, their_invoice["id"])
    assert (await billing.get(my_url, headers=as_mine)).json()["id"] == my_invoice["id"]
    assert_problem(await billing.get(f"/v1/invoices/{their_invoice['id']}", headers=as_mine), 404)
    listed = (await billing.get("/v1/invoices?limit=500", headers=as_mine)).json()["data"]
    assert my_invoice["id"] in {invoice["id"] for invoice in listed}
    assert {invoice["client_id"] for invoice in listed} == {str(mine)}
    assert "draft" not in {invoice["status"] for invoice in listed}


async def test_a_client_never_sees_a_draft_voided_before_it_was_issued(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(billing, tokens, feed, 1)
    as_client = tokens.client(client_id)
    scrapped = await draft(billing, tokens, client_id)
    voided = await billing.post(
        f"/v1/invoices/{scrapped['id']}/void", json={"reason": "wrong prices, redo"},
        headers=tokens.manager(),
    )  # fmt: skip
    assert (voided.status_code, voided.json()["number"]) == (200, None), voided.text
    issued = await finalized_invoice(billing, tokens, client_id)
    voided = await billing.post(
        f"/v1/invoices/{issued['id']}/void", json={"reason": "wrong client"},
        headers=tokens.manager(),
    )  # fmt: skip
    assert voided.status_code == 200, voided.text

    for media_type in ("application/json", "application/pdf", "text/csv"):
        shown = await billing.get(
            f"/v1/invoices/{scrapped['id']}", headers={**as_client, "Accept": media_type}
        )
        assert shown.status_code == 404, (media_type, shown.text)
    listed = await billing.get("/v1/invoices?status=void&limit=500", headers=as_client)
    assert [invoice["id"] for invoice in listed.json()["data"]] == [issued["id"]]
    shown = await billing.get(f"/v1/invoices/{issued['id']}", headers=as_client)
    assert (shown.json()["status"], shown.json()["number"]) == ("void", issued["number"])
