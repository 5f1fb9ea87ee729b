"""Billing's audit trail: money changed by a manager is recorded with the amounts and
statuses that changed, refusals with their status, and the caller's address as a trusted
proxy saw it."""

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from bpo_billing.app import create_app
from bpo_billing.settings import Settings
from bpo_common.auth import Role, Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.audit import (
    assert_append_only,
    assert_nowhere_in_the_trail,
    assert_only_admins_read_the_trail,
    assert_the_trail_reads_back,
    audit_rows,
)
from bpo_devtools.testing import TestStack, Tokens, assert_problem, serve

from .conftest import Feed, draft, price_book


def finance(tokens: Tokens, subject: str) -> dict[str, str]:
    return tokens.headers(Role.MANAGER, subject, scopes=[Scope.FINANCE])


async def test_invoicing_leaves_a_row_per_change_with_statuses_and_amounts(
    billing: httpx.AsyncClient, billing_db: SessionFactory, feed: Feed, tokens: Tokens
) -> None:
    subject = f"finance-{new_id()}"
    headers = finance(tokens, subject) | {"X-Correlation-ID": "audit-billing-1"}
    client_id = new_id()
    book = await billing.put(f"/v1/price-books/{client_id}", json=price_book(), headers=headers)
    assert book.status_code == 201, book.text
    await feed.items(await feed.job(client_id), 2)
    invoice = await draft(billing, tokens, client_id)
    invoice_id = invoice["id"]
    finalized = await billing.post(f"/v1/invoices/{invoice_id}/finalize", headers=headers)
    assert finalized.status_code == 200, finalized.text
    paid = await billing.post(
        f"/v1/invoices/{invoice_id}/payments",
        json={"amount": "0.50", "reference": "SECRET-REFERENCE"},
        headers=headers,
    )
    assert paid.status_code == 201, paid.text

    rows = await audit_rows(billing_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id, row.summary) for row in rows] == [
        (
            "PUT /v1/price-books/{client_id}",
            201,
            str(client_id),
            {
                "version": 1,
                "fields": ["currency", "effective_from", "rates", "sla_credit_pct", "tax_rate"],
            },
        ),
        (
            "POST /v1/invoices/{invoice_id}/finalize",
            200,
            invoice_id,
            {"before": "draft", "after": "finalized"},
        ),
        (
            "POST /v1/invoices/{invoice_id}/payments",
            201,
            invoice_id,
            {"amount": "0.50", "before": "finalized", "after": "finalized"},
        ),
    ]
    for row in rows:
        assert (row.role, row.scopes, row.client_id) == (Role.MANAGER, ["finance"], None)
        assert (row.address, row.correlation_id) == ("127.0.0.1", "audit-billing-1")
    assert Decimal(rows[2].summary["amount"]) == Decimal("0.50")
    await assert_nowhere_in_the_trail(billing_db, "SECRET-REFERENCE")


async def test_refusals_are_recorded_with_their_status_and_contractors_are_not(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens
) -> None:
    subject = f"ops-{new_id()}"
    ops = tokens.headers(Role.MANAGER, subject, scopes=[Scope.OPS])
    client_id = new_id()
    refused = await billing.put(f"/v1/price-books/{client_id}", json=price_book(), headers=ops)
    assert_problem(refused, 403)
    # Refused before the route looked at the token: the trail still names its holder.
    unreadable = await billing.post(
        "/v1/invoices",
        content=b'{"client_id": ',
        headers=ops | {"Content-Type": "application/json"},
    )
    assert_problem(unreadable, 422)
    contractor = new_id()
    rates = await billing.put(
        "/v1/piece-rates/invoice",
        json={"currency": "EUR", "entry": "0.1", "review": "0.1", "adjudication": "0.1"},
        headers=tokens.contractor(contractor),
    )
    assert_problem(rates, 403)

    rows = await audit_rows(billing_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id, row.summary) for row in rows] == [
        ("PUT /v1/price-books/{client_id}", 403, str(client_id), {}),
        ("POST /v1/invoices", 422, None, {}),
    ]
    assert await audit_rows(billing_db, actor=str(contractor)) == []


async def test_the_trail_cannot_be_changed_and_admins_read_it(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens
) -> None:
    subject = f"finance-{new_id()}"
    for work_type in ("audit-a", "audit-b"):
        response = await billing.put(
            f"/v1/piece-rates/{work_type}",
            json={"currency": "EUR", "entry": "0.1", "review": "0.1", "adjudication": "0.1"},
            headers=finance(tokens, subject),
        )
        assert response.status_code == 200, response.text
    rows = await audit_rows(billing_db, actor=subject)
    assert [(row.object_id, row.summary) for row in rows] == [
        ("audit-a", {"fields": ["adjudication", "currency", "entry", "review"]}),
        ("audit-b", {"fields": ["adjudication", "currency", "entry", "review"]}),
    ]
    await assert_append_only(billing_db)
    await assert_only_admins_read_the_trail(billing, tokens)
    await assert_the_trail_reads_back(billing, tokens, rows)


@pytest.fixture(scope="module")
async def behind_a_proxy(stack: TestStack) -> AsyncIterator[httpx.AsyncClient]:
    """Billing behind a proxy it trusts (the test client's address, 127.0.0.1)."""
    settings = stack.settings(Settings, "billing", trusted_proxies="127.0.0.1, 10.0.0.0/8")
    async with serve(create_app(settings)) as client:
        yield client


async def test_the_address_is_the_callers_as_trusted_proxies_saw_it(
    billing: httpx.AsyncClient,
    behind_a_proxy: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
) -> None:
    subject = f"finance-{new_id()}"
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.1.2.3"}
    headers = finance(tokens, subject) | forwarded
    for api in (billing, behind_a_proxy):
        response = await api.put(f"/v1/price-books/{new_id()}", json=price_book(), headers=headers)
        assert response.status_code == 201, response.text

    rows = await audit_rows(billing_db, actor=subject)
    # Untrusted, the header is ignored; trusted, the proxies' own hops are skipped and the
    # first address they did not add is the caller's (what lies left of it could be forged).
    assert [row.address for row in rows] == ["127.0.0.1", "203.0.113.9"]
