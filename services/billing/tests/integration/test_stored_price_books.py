"""A price book version is priced and shown as it was accepted: a bound added to new prices
since (at most 1,000,000,000 a unit) does not stop a version stored before it."""

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from bpo_billing.models import PriceBook, UsageLine
from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.errors import Conflict
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem

from .conftest import Feed

LE_BOUND = "Input should be less than or equal to 1000000000"


async def stored_version(billing_db: SessionFactory, rates: dict[str, Any]) -> PriceBook:
    """A client's first version, in IDR, as a release before the bound stored it."""
    book = PriceBook(
        id=new_id(),
        client_id=new_id(),
        version=1,
        effective_from=date(2026, 1, 1),
        currency="IDR",
        tax_rate=Decimal("0.11"),
        rates=rates,
        rush={"max_sla_hours": "24", "surcharge_pct": "50"},
        per_exception=None,
        minimum_monthly_fee=Decimal(0),
        sla_credit_pct=Decimal(0),
        accuracy_credit_pct=Decimal(0),
        created_at=utcnow(),
    )
    async with billing_db() as session, session.begin():
        session.add(book)
    return book


async def amounts(billing_db: SessionFactory, client_id: UUID) -> list[Decimal | None]:
    async with billing_db() as session:
        rows = await session.scalars(
            select(UsageLine.amount)
            .where(UsageLine.client_id == client_id)
            .order_by(UsageLine.completed_at, UsageLine.id)
        )
        return list(rows)


async def test_a_version_stored_with_prices_above_today_s_bound_prices_items_and_shows(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    tiers = [
        {"min_quantity": 1, "max_quantity": 1, "per_item": "1500000000"},
        {"min_quantity": 2, "max_quantity": None, "per_item": "2000000000"},
    ]
    rates = {"invoice": {"per_item": "1500000000", "per_field": "0", "tiers": tiers}}
    book = await stored_version(billing_db, rates)

    job = await feed.job(book.client_id)
    await feed.items(job, 2)

    assert await amounts(billing_db, book.client_id) == [
        Decimal("1500000000"),
        Decimal("2000000000"),
    ]
    headers = tokens.client(book.client_id)
    for path in (f"/v1/price-books/{book.client_id}", f"/v1/price-books/{book.client_id}/versions"):
        response = await billing.get(path, headers=headers)
        assert response.status_code == 200, response.text
    shown = response.json()["data"][0]
    assert shown["rates"]["invoice"] == {
        "per_item": "1500000000.00",
        "per_field": "0.00",
        "tiers": [
            {"min_quantity": 1, "max_quantity": 1, "per_item": "1500000000.00"},
            {"min_quantity": 2, "max_quantity": None, "per_item": "2000000000.00"},
        ],
    }
    assert shown["rush"] == {"max_sla_hours": "24", "surcharge_pct": "50"}

    # A new version is held to the bound.
    new_version = {
        "currency": "IDR",
        "tax_rate": "0.11",
        "rates": rates,
        "effective_from": "2026-06-01",
    }
    refused = await billing.put(
        f"/v1/price-books/{book.client_id}", json=new_version, headers=tokens.manager()
    )
    errors = assert_problem(refused, 422)["errors"]
    assert {"field": "rates.invoice.per_item", "message": LE_BOUND} in errors


async def test_an_item_a_stored_version_prices_beyond_the_ledger_names_the_price_book(
    billing_db: SessionFactory, feed: Feed
) -> None:
    rates = {"invoice": {"per_item": "9999999999", "per_field": "9999999999", "tiers": []}}
    book = await stored_version(billing_db, rates)
    job = await feed.job(book.client_id)

    expected = (
        f"client {book.client_id}'s price book version 1 \\({book.id}\\) prices item .* "
        f"\\(1000000 fields\\) at 10000009998999999.00000000 IDR, more than the ledger "
        f"holds \\(under 10000000000000000\\)"
    )
    with pytest.raises(Conflict, match=expected):
        await feed.items(job, 1, fields=1_000_000)
    assert await amounts(billing_db, book.client_id) == []
