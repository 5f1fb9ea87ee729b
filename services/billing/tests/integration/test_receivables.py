"""Receivables: payments, credit notes, and invoices past their due date."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from bpo_billing.models import CreditNote, Invoice, InvoiceCounter, Series
from bpo_common.contracts.billing import InvoicePaid
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, assert_problem, error_fields, outbox_events

from .conftest import Feed, client_with_usage, draft, finalize, finalized_invoice


async def test_payments_partial_then_full_and_an_overpayment_is_refused(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(
        billing, tokens, feed, 10, rates={"invoice": {"per_item": "10"}}
    )
    invoice = await finalized_invoice(billing, tokens, client_id)
    assert (invoice["total"], invoice["status"]) == ("121.00", "finalized")
    assert invoice["due_on"] == str(
        date.fromisoformat(invoice["finalized_at"][:10]) + timedelta(30)
    )
    url = f"/v1/invoices/{invoice['id']}"

    partial = await billing.post(
        f"{url}/payments", json={"amount": "21.00", "reference": "wire 1"}, headers=tokens.manager()
    )
    assert partial.status_code == 201, partial.text
    assert (partial.json()["amount_paid"], partial.json()["amount_due"]) == ("21.00", "100.00")
    assert partial.json()["status"] == "finalized"

    too_much = await billing.post(
        f"{url}/payments", json={"amount": "100.01"}, headers=tokens.manager()
    )
    refusal = assert_problem(too_much, 422)
    assert error_fields(refusal) == ["amount"]
    assert refusal["detail"] == "a payment of 100.01 exceeds the 100.00 EUR still due"
    for bad in ["0", "-5", "1.001"]:
        refused = await billing.post(
            f"{url}/payments", json={"amount": bad}, headers=tokens.manager()
        )
        assert error_fields(assert_problem(refused, 422)) == ["amount"]
    assert_problem(
        await billing.post(f"{url}/void", json={"reason": "x"}, headers=tokens.manager()), 409
    )

    rest = await billing.post(f"{url}/payments", json={"amount": "100"}, headers=tokens.manager())
    body = rest.json()
    assert (body["status"], body["amount_due"], body["amount_paid"]) == ("paid", "0.00", "121.00")
    assert [p["amount"] for p in body["payments"]] == ["21.00", "100.00"]
    paid = await outbox_events(billing_db, InvoicePaid.event_type, invoice_id=invoice["id"])
    assert [e.data["total"] for e in paid] == ["121.00"]
    assert_problem(
        await billing.post(f"{url}/payments", json={"amount": "1"}, headers=tokens.manager()), 409
    )


async def test_an_invoice_is_paid_on_the_day_of_its_latest_payment_whatever_order_they_came(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(
        billing, tokens, feed, 10, rates={"invoice": {"per_item": "10"}}
    )
    invoice = await finalized_invoice(billing, tokens, client_id)
    url = f"/v1/invoices/{invoice['id']}/payments"
    later, earlier = "2026-04-20T09:00:00Z", "2026-04-10T09:00:00Z"
    first = await billing.post(
        url, json={"amount": "100", "paid_at": later}, headers=tokens.manager()
    )
    assert first.status_code == 201, first.text
    # Reconciled afterwards: a transfer of ten days before, which settles the rest.
    rest = await billing.post(
        url, json={"amount": "21", "paid_at": earlier}, headers=tokens.manager()
    )

    assert (rest.json()["status"], rest.json()["paid_at"]) == ("paid", "2026-04-20T09:00:00Z")
    paid = await outbox_events(billing_db, InvoicePaid.event_type, invoice_id=invoice["id"])
    assert [e.data["paid_at"] for e in paid] == ["2026-04-20T09:00:00Z"]


async def test_credit_notes_reduce_what_is_due_and_can_settle_it(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(
        billing, tokens, feed, 5, rates={"invoice": {"per_item": "10"}}, tax_rate="0"
    )
    draft_ = await draft(billing, tokens, client_id)
    url = f"/v1/invoices/{draft_['id']}"
    on_draft = await billing.post(
        f"{url}/credit-notes", json={"amount": "1", "reason": "x"}, headers=tokens.manager()
    )
    assert_problem(on_draft, 409)
    await finalize(billing, tokens, draft_["id"])

    by_lines = await billing.post(
        f"{url}/credit-notes",
        json={
            "reason": "two scans were unreadable",
            "lines": [
                {"description": "scan 4", "amount": "1E+1"},
                {"description": "scan 5", "amount": "5.5"},
            ],
        },
        headers=tokens.manager(),
    )
    assert by_lines.status_code == 201, by_lines.text
    body = by_lines.json()
    assert (body["amount_credited"], body["amount_due"]) == ("15.50", "34.50")
    assert body["credit_notes"][0]["reason"] == "two scans were unreadable"
    # To the minor unit, as the note's amount, however each line's amount was written.
    stored = (await billing.get(url, headers=tokens.manager())).json()
    for note in (body["credit_notes"][0], stored["credit_notes"][0]):
        assert [line["amount"] for line in note["lines"]] == ["10.00", "5.50"]
        assert note["amount"] == "15.50"
    # Voided, its usage would be billed again in full and the credit lost.
    refused = await billing.post(f"{url}/void", json={"reason": "x"}, headers=tokens.manager())
    assert "has credit notes" in assert_problem(refused, 409)["detail"]

    for bad, field in [
        ({"reason": "x", "amount": "34.51"}, "amount"),
        ({"reason": "x", "lines": [{"description": "a", "amount": "-1"}]}, "lines[0].amount"),
        ({"reason": "", "amount": "1"}, "reason"),
        ({"reason": "x"}, "amount"),
        ({"reason": "x", "amount": "1", "lines": [{"description": "a", "amount": "1"}]}, "amount"),
    ]:
        problem = assert_problem(
            await billing.post(f"{url}/credit-notes", json=bad, headers=tokens.manager()), 422
        )
        assert field in error_fields(problem), (bad, problem)

    payment = await billing.post(f"{url}/payments", json={"amount": "20"}, headers=tokens.manager())
    assert payment.json()["amount_due"] == "14.50"
    settled = await billing.post(
        f"{url}/credit-notes",
        json={"amount": "14.50", "reason": "goodwill"},
        headers=tokens.manager(),
    )
    body = settled.json()
    assert (body["status"], body["amount_due"]) == ("paid", "0.00")
    assert Decimal(body["total"]) == Decimal(body["amount_credited"]) + Decimal(body["amount_paid"])

    # Credit notes are numbered in a series of their own, one after the other, and the
    # refused requests above took no number.
    first, second = (note["number"] for note in body["credit_notes"])
    year = str(date.fromisoformat(body["finalized_at"][:10]).year)
    assert re.fullmatch(rf"CN-{year}-[0-9]{{6}}", first), first
    assert second == f"CN-{year}-{int(first[-6:]) + 1:06d}"
    async with billing_db() as session:
        last = await session.scalar(
            select(InvoiceCounter.last_number).where(
                InvoiceCounter.series == Series.CREDIT_NOTE, InvoiceCounter.year == int(year)
            )
        )
        given = await session.scalar(
            select(func.count()).where(CreditNote.number.like(f"CN-{year}-%"))
        )
    # No number was skipped: every one up to the counter went to a credit note.
    assert last == given == int(second[-6:])
    as_csv = await billing.get(url, headers={**tokens.manager(), "Accept": "text/csv"})
    notes = [
        row for row in csv.DictReader(io.StringIO(as_csv.text)) if row["kind"] == "credit_note"
    ]
    assert [(row["description"], row["amount"]) for row in notes] == [
        (f"{first}: two scans were unreadable", "15.50"),
        (f"{second}: goodwill", "14.50"),
    ]
    with pytest.raises(DBAPIError, match="never changes"):
        async with billing_db() as session, session.begin():
            await session.execute(
                update(CreditNote).where(CreditNote.number == first).values(amount=Decimal("1"))
            )


async def test_an_unpaid_invoice_past_its_due_date_is_overdue(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await client_with_usage(billing, tokens, feed, 1)
    invoice = await finalized_invoice(billing, tokens, client_id)
    assert invoice["overdue"] is False
    async with billing_db() as session, session.begin():
        await session.execute(
            update(Invoice)
            .where(Invoice.id == invoice["id"])
            .values(due_on=date.today() - timedelta(days=1))
        )
    body = (await billing.get(f"/v1/invoices/{invoice['id']}", headers=tokens.manager())).json()
    assert body["overdue"] is True
    listed = await billing.get(f"/v1/invoices?client_id={client_id}", headers=tokens.manager())
    assert [i["overdue"] for i in listed.json()["data"]] == [True]
