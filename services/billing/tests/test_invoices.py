"""Invoices: drafts from unbilled usage, numbering, immutability, receivables, documents."""

import asyncio
import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from bpo_billing.models import CreditNote, Invoice, InvoiceCounter, InvoiceLine, Series, UsageLine
from bpo_common.contracts.billing import InvoiceFinalized, InvoicePaid, InvoiceVoided
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields

from .conftest import MONTH_START, Feed, draft, finalize, new_client, outbox


async def test_a_draft_groups_unbilled_usage_by_job_and_work_type_with_tax(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(
        billing,
        tokens,
        rates={
            "invoice": {"per_item": "0.333", "per_field": "0"},
            "receipt": {"per_item": "0.25", "per_field": "0.005"},
        },
    )
    first = await feed.job(client_id, external_ref="batch-1")
    second = await feed.job(client_id, work_type="receipt")
    await feed.items(first, 7)
    await feed.items(second, 3, fields=1)
    await feed.items(second, 2, at=MONTH_START + timedelta(days=31))  # April: not this period

    invoice = await draft(billing, tokens, client_id)
    assert invoice["status"] == "draft"
    assert invoice["number"] is None
    lines = {line["description"]: line for line in invoice["lines"]}
    assert lines["invoice items, job batch-1"] == {
        "kind": "usage",
        "job_id": str(first.job_id),
        "work_type": "invoice",
        "description": "invoice items, job batch-1",
        "quantity": 7,
        "unit_price": "0.333",
        "amount": "2.33",  # 7 x 0.333 = 2.331, rounded once for the line
    }
    receipts = lines[f"receipt items, job {second.job_id}"]
    assert (receipts["quantity"], receipts["unit_price"], receipts["amount"]) == (
        3,
        "0.255",
        "0.77",
    )
    assert invoice["subtotal"] == "3.10"
    assert invoice["tax_rate"] == "0.21"
    assert invoice["tax"] == "0.65"  # 3.10 x 0.21 = 0.651
    assert invoice["total"] == "3.75"
    assert invoice["amount_due"] == "3.75"
    async with billing_db() as session:
        billed = await session.scalar(
            select(func.count()).where(
                UsageLine.client_id == client_id, UsageLine.invoice_id == invoice["id"]
            )
        )
        unbilled = await session.scalar(
            select(func.count()).where(
                UsageLine.client_id == client_id, UsageLine.invoice_id.is_(None)
            )
        )
    assert (billed, unbilled) == (10, 2)


async def test_two_invoice_runs_at_once_make_one_draft_that_claims_each_line_once(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    job = await feed.job(client_id)
    await feed.items(job, 20)
    body = {"client_id": str(client_id), "period_start": "2026-03-01", "period_end": "2026-03-31"}
    responses = await asyncio.gather(
        *[billing.post("/v1/invoices", json=body, headers=tokens.manager()) for _ in range(3)]
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert [line["quantity"] for line in responses[0].json()["lines"]] == [20]
    async with billing_db() as session:
        drafts = await session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.client_id == client_id)
        )
        claimed = await session.scalars(
            select(UsageLine.invoice_id).where(UsageLine.client_id == client_id)
        )
        assert set(claimed) == {Invoice.id.type.python_type(responses[0].json()["id"])}
    assert drafts == 1


async def test_concurrent_finalizations_take_consecutive_numbers_without_gaps(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    drafts = []
    for _ in range(6):
        client_id = await new_client(billing, tokens)
        await feed.items(await feed.job(client_id), 1)
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
    events = await outbox(billing_db, InvoiceFinalized.event_type, invoice_id=drafts[1]["id"])
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
    march = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
    url = f"/v1/invoices/{march['id']}"
    before = (await billing.get(url, headers=tokens.manager())).json()

    # An item completed in March arrives after March was invoiced.
    await feed.items(job, 1, at=MONTH_START + timedelta(days=20))
    assert_problem(await billing.post(f"{url}/finalize", headers=tokens.manager()), 409)
    again = await billing.post(
        "/v1/invoices",
        json={
            "client_id": str(client_id),
            "period_start": "2026-03-01",
            "period_end": "2026-03-31",
        },
        headers=tokens.manager(),
    )
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


async def test_payments_partial_then_full_and_an_overpayment_is_refused(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    await feed.items(await feed.job(client_id), 10)
    invoice = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
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
    assert error_fields(assert_problem(too_much, 422)) == ["amount"]
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
    paid = await outbox(billing_db, InvoicePaid.event_type, invoice_id=invoice["id"])
    assert [e.data["total"] for e in paid] == ["121.00"]
    assert_problem(
        await billing.post(f"{url}/payments", json={"amount": "1"}, headers=tokens.manager()), 409
    )


async def test_credit_notes_reduce_what_is_due_and_can_settle_it(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(
        billing, tokens, rates={"invoice": {"per_item": "10"}}, tax_rate="0"
    )
    await feed.items(await feed.job(client_id), 5)
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
                {"description": "scan 4", "amount": "10"},
                {"description": "scan 5", "amount": "5.50"},
            ],
        },
        headers=tokens.manager(),
    )
    assert by_lines.status_code == 201, by_lines.text
    body = by_lines.json()
    assert (body["amount_credited"], body["amount_due"]) == ("15.50", "34.50")
    assert body["credit_notes"][0]["reason"] == "two scans were unreadable"

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


async def test_void_only_while_unpaid_and_its_usage_goes_on_the_next_draft(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    await feed.items(await feed.job(client_id), 3)
    invoice = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
    voided = await billing.post(
        f"/v1/invoices/{invoice['id']}/void",
        json={"reason": "wrong client"},
        headers=tokens.manager(),
    )
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["void_reason"]) == ("void", "wrong client")
    assert voided.json()["number"] == invoice["number"]  # the number stays used: no gap
    events = await outbox(billing_db, InvoiceVoided.event_type, invoice_id=invoice["id"])
    assert [e.data["reason"] for e in events] == ["wrong client"]
    assert_problem(
        await billing.post(f"/v1/invoices/{invoice['id']}/void", json={"reason": "again"},
                           headers=tokens.manager()),
        409,
    )  # fmt: skip
    redrafted = await draft(billing, tokens, client_id)
    assert redrafted["id"] != invoice["id"]
    assert [line["quantity"] for line in redrafted["lines"]] == [3]


async def test_sla_credit_for_a_late_job_and_the_minimum_monthly_fee(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(
        billing, tokens, rates={"invoice": {"per_item": "10"}}, minimum_monthly_fee="100.00"
    )
    late = await feed.job(client_id, due_at=MONTH_START + timedelta(days=1), external_ref="late")
    on_time = await feed.job(client_id, due_at=MONTH_START + timedelta(days=9))
    await feed.items(late, 3)
    await feed.items(on_time, 2)
    await feed.job_completed(late, MONTH_START + timedelta(days=1, hours=6))
    await feed.job_completed(on_time, MONTH_START + timedelta(days=2))
    await feed.job_completed(late, MONTH_START + timedelta(days=1, hours=6))  # told twice

    invoice = await draft(billing, tokens, client_id)
    kinds = [(line["kind"], line["amount"]) for line in invoice["lines"]]
    assert sorted(kinds) == sorted(
        [("usage", "30.00"), ("usage", "20.00"), ("minimum_fee", "50.00"), ("sla_credit", "-3.00")]
    )
    credit = next(line for line in invoice["lines"] if line["kind"] == "sla_credit")
    assert credit["description"] == "SLA credit 10%: job late completed 6.0 h late"
    assert invoice["subtotal"] == "97.00"
    assert invoice["total"] == "117.37"


async def test_an_invoice_as_csv_and_pdf_says_what_the_json_says(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    rates = {
        "invoice": {"per_item": "0.5"},
        "請求書": {"per_item": "1"},
        "=SUM(A1)": {"per_item": "1"},
    }
    client_id = await new_client(billing, tokens, rates=rates)
    await feed.items(await feed.job(client_id, work_type="invoice", external_ref="=HYPERLINK()"), 2)
    # Beyond what the PDF's fonts can show: it still renders.
    await feed.items(await feed.job(client_id, work_type="請求書"), 1)
    await feed.items(await feed.job(client_id, work_type="=SUM(A1)"), 1)
    invoice = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
    url = f"/v1/invoices/{invoice['id']}"
    as_csv = await billing.get(url, headers={**tokens.client(client_id), "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[0]["description"] == "invoice items, job =HYPERLINK()"
    assert rows[0]["amount"] == invoice["lines"][0]["amount"]
    totals = {row["kind"]: row["amount"] for row in rows[3:]}
    assert totals["total"] == invoice["total"]
    assert totals["amount_due"] == invoice["amount_due"]
    assert all(row["number"] == invoice["number"] for row in rows)
    assert rows[1]["work_type"] == "請求書"
    # A cell a spreadsheet would run as a formula is quoted.
    assert (rows[2]["work_type"], rows[2]["description"]) == (
        "'=SUM(A1)",
        "'=SUM(A1) items, job " + rows[2]["job_id"],
    )

    as_pdf = await billing.get(url, headers={**tokens.manager(), "Accept": "application/pdf"})
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF-")
    assert_problem(await billing.get(url, headers={**tokens.manager(), "Accept": "image/png"}), 406)


async def test_a_client_sees_only_its_own_invoices_and_cannot_manage_them(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    mine, theirs = await new_client(billing, tokens), await new_client(billing, tokens)
    for client_id in (mine, theirs):
        await feed.items(await feed.job(client_id), 1)
    my_invoice = await draft(billing, tokens, mine)
    their_invoice = await draft(billing, tokens, theirs)
    as_mine = tokens.client(mine)
    my_url = f"/v1/invoices/{my_invoice['id']}"

    # A draft is the back office's until it is finalized: the client does not see it yet.
    assert_problem(await billing.get(my_url, headers=as_mine), 404)
    listed = (await billing.get("/v1/invoices?limit=500", headers=as_mine)).json()["data"]
    assert my_invoice["id"] not in {invoice["id"] for invoice in listed}
    assert_problem(await billing.post(f"{my_url}/finalize", headers=as_mine), 403)
    body = {"client_id": str(mine), "period_start": "2026-03-01", "period_end": "2026-03-31"}
    assert_problem(await billing.post("/v1/invoices", json=body, headers=as_mine), 403)

    await finalize(billing, tokens, my_invoice["id"])
    await finalize(billing, tokens, their_invoice["id"])
    assert (await billing.get(my_url, headers=as_mine)).json()["id"] == my_invoice["id"]
    assert_problem(await billing.get(f"/v1/invoices/{their_invoice['id']}", headers=as_mine), 404)
    listed = (await billing.get("/v1/invoices?limit=500", headers=as_mine)).json()["data"]
    assert my_invoice["id"] in {invoice["id"] for invoice in listed}
    assert {invoice["client_id"] for invoice in listed} == {str(mine)}
    assert "draft" not in {invoice["status"] for invoice in listed}


async def test_bad_draft_requests_are_refused_and_store_nothing(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await new_client(billing, tokens)
    march = {"period_start": "2026-03-01", "period_end": "2026-03-31"}
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"client_id": str(client_id), "period_start": "2026-03-31", "period_end": "2026-03-01"},
         422, "period_end"),
        ({"client_id": "nope", **march}, 422, "client_id"),
        ({"client_id": str(client_id), "period_start": "2026-03-01"}, 422, "period_end"),
        # Nothing to invoice, and a client without prices.
        ({"client_id": str(client_id), **march}, 409, None),
        ({"client_id": str(new_id()), **march}, 409, None),
    ]  # fmt: skip
    for body, status, field in cases:
        problem = assert_problem(
            await billing.post("/v1/invoices", json=body, headers=tokens.manager()), status
        )
        if field:
            assert field in error_fields(problem), problem
    async with billing_db() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.client_id == client_id)
        )
    assert stored == 0


async def test_an_unpaid_invoice_past_its_due_date_is_overdue(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    await feed.items(await feed.job(client_id), 1)
    invoice = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
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
