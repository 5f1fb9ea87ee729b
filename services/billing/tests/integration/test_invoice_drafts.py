"""Drafts: unbilled usage grouped by job and work type, one draft per client and period,
SLA credits and the minimum fee, and what is refused."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select

from bpo_billing.models import Invoice, UsageLine
from bpo_billing.service import invoices
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
    eventually,
    waits_for_lock,
)

from .conftest import (
    MONTH_START,
    Feed,
    client_with_usage,
    draft,
    draft_body,
    finalize,
    new_client,
)

# Items at 10.00, at least 100.00 a month, no tax.
MONTHLY_MINIMUM: dict[str, Any] = {
    "rates": {"invoice": {"per_item": "10"}},
    "minimum_monthly_fee": "100.00",
    "tax_rate": "0",
}


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
    client_id = await client_with_usage(billing, tokens, feed, 20)
    body = draft_body(client_id)
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


async def test_the_minimum_monthly_fee_is_charged_once_a_month_whatever_the_drafts(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, **MONTHLY_MINIMUM)
    job = await feed.job(client_id)
    await feed.items(job, 3)
    first = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
    assert [(line["kind"], line["amount"]) for line in first["lines"]] == [
        ("usage", "30.00"),
        ("minimum_fee", "70.00"),
    ]
    # A late item of March: its usage makes up 10.00 of the fee charged, which is given back.
    await feed.items(job, 1, at=MONTH_START + timedelta(days=20))
    second = await draft(billing, tokens, client_id)
    assert [(line["kind"], line["amount"]) for line in second["lines"]] == [
        ("usage", "10.00"),
        ("minimum_fee", "-10.00"),
    ]
    assert second["total"] == "0.00"
    await finalize(billing, tokens, second["id"])
    # Nothing new in March: nothing to invoice, not another fee.
    again = await billing.post("/v1/invoices", json=draft_body(client_id), headers=tokens.manager())
    assert "nothing to invoice" in assert_problem(again, 409)["detail"]
    # April is a month of its own.
    april = await draft(billing, tokens, client_id, "2026-04-01", "2026-04-30")
    assert [(line["kind"], line["amount"]) for line in april["lines"]] == [
        ("minimum_fee", "100.00")
    ]
    # December, before the prices took effect (2026-01-01), has no minimum to pay.
    before = draft_body(client_id, "2025-12-01", "2025-12-31")
    december = await billing.post("/v1/invoices", json=before, headers=tokens.manager())
    assert "nothing to invoice" in assert_problem(december, 409)["detail"]


async def test_a_month_invoiced_in_halves_pays_its_usage_or_the_minimum_whichever_is_more(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, **MONTHLY_MINIMUM)
    job = await feed.job(client_id)
    await feed.items(job, 3)
    await feed.items(job, 5, at=MONTH_START + timedelta(days=20))
    first = await finalize(
        billing, tokens, (await draft(billing, tokens, client_id, "2026-03-01", "2026-03-15"))["id"]
    )
    second = await draft(billing, tokens, client_id, "2026-03-16", "2026-03-31")

    assert [(line["kind"], line["amount"]) for line in first["lines"]] == [
        ("usage", "30.00"),
        ("minimum_fee", "70.00"),
    ]
    assert [(line["kind"], line["amount"]) for line in second["lines"]] == [
        ("usage", "50.00"),
        ("minimum_fee", "-50.00"),
    ]
    assert second["lines"][1]["description"] == (
        "Minimum monthly fee of 100.00 EUR on the month's usage of 80.00 EUR (30.00 EUR of it on "
        "its other invoices): 20.00 EUR, less 70.00 EUR charged before: 50.00 EUR given back"
    )
    assert (second["subtotal"], second["total"]) == ("0.00", "0.00")
    # 80.00 of usage under a minimum of 100.00.
    assert Decimal(first["subtotal"]) + Decimal(second["subtotal"]) == Decimal("100.00")


async def test_a_draft_of_usage_that_waits_for_a_price_names_the_work_type_to_price(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    await feed.items(await feed.job(client_id, work_type="receipt"), 2)

    refused = await billing.post(
        "/v1/invoices", json=draft_body(client_id), headers=tokens.manager()
    )

    detail = assert_problem(refused, 409)["detail"]
    assert "nothing to invoice" in detail
    assert "usage lines of work type receipt (2) wait for a price" in detail


async def test_a_credit_larger_than_a_draft_waits_for_one_it_fits_in(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    late = await feed.job(client_id, due_at=MONTH_START + timedelta(days=1))
    await feed.items(late, 100)
    await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
    april = MONTH_START + timedelta(days=35)
    await feed.items(late, 1, at=april)
    await feed.job_completed(late, april)
    # 10 % of the 1,010.00 the job was billed is more than April's 10.00.
    small = await finalize(
        billing, tokens, (await draft(billing, tokens, client_id, "2026-04-01", "2026-04-30"))["id"]
    )
    assert [(line["kind"], line["amount"]) for line in small["lines"]] == [("usage", "10.00")]
    assert (small["status"], small["total"], small["amount_due"]) == ("finalized", "12.10", "12.10")
    other = await feed.job(client_id)
    await feed.items(other, 20, at=MONTH_START + timedelta(days=65))
    may = await draft(billing, tokens, client_id, "2026-05-01", "2026-05-31")
    assert [(line["kind"], line["amount"]) for line in may["lines"]] == [
        ("usage", "200.00"),
        ("sla_credit", "-101.00"),
    ]


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
        # A midnight with an offset was taken as the UTC day on its face.
        ({**march, "client_id": str(client_id), "period_end": "2026-03-31T00:00:00+05:00"},
         422, "period_end"),
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


async def test_a_draft_asked_for_while_an_invoice_is_voided_waits_and_charges_the_months_fee(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, **MONTHLY_MINIMUM)
    await feed.items(await feed.job(client_id), 3)
    issued = await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])

    async with billing_db() as session, session.begin():
        await invoices.void_invoice(session, UUID(issued["id"]), "wrong prices, redo")
        redraft = asyncio.create_task(draft(billing, tokens, client_id))
        await eventually(
            partial(waits_for_lock, billing_db, f"billing:draft:{client_id}"),
            timeout_s=10,
            what="the draft waiting for the void to end",
        )
    redrafted = await redraft

    assert [(line["kind"], line["amount"]) for line in redrafted["lines"]] == [
        ("usage", "30.00"),
        ("minimum_fee", "70.00"),
    ]
