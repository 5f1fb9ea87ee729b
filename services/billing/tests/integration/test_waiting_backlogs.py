"""A backlog waiting for a price (usage a price book did not cover, earnings of a work type
without piece rates) is priced a chunk at a time when its price arrives: every row priced as
in one go, every price announced."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from bpo_billing.models import Earning, UsageLine
from bpo_billing.repository import earnings as earnings_repository
from bpo_billing.repository import usage as usage_repository
from bpo_billing.service import earnings as earnings_service
from bpo_billing.service import usage as usage_service
from bpo_common.contracts import TaskKind
from bpo_common.contracts.billing import EarningRecorded, UsageRecorded
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, outbox_events

from .conftest import Feed, new_client, put_price_book, scored

CHUNK = 3


def read_in_chunks(
    monkeypatch: pytest.MonkeyPatch, service: Any, repository: Any, read: str
) -> list[int]:
    """The chunk size lowered to CHUNK for `service`, and how many rows each of its reads of
    the waiting rows (`repository`'s `read`) returned, in order."""
    monkeypatch.setattr(service, "WAITING_CHUNK", CHUNK, raising=False)
    original: Callable[..., Awaitable[list[Any]]] = getattr(repository, read)
    sizes: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> list[Any]:
        rows = await original(*args, **kwargs)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(repository, read, counted)
    return sizes


async def test_waiting_usage_is_priced_a_chunk_at_a_time_in_the_order_it_completed(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
    feed: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tiers number each month's items in the order they completed across chunks; the items
    of days a later version rules without their work type wait on, and are read once."""
    client_id = await new_client(billing, tokens)  # from January: invoices only
    await put_price_book(billing, tokens, client_id, effective_from="2026-04-15")
    job = await feed.job(client_id, work_type="receipt")
    april = await feed.items(job, 3, at=datetime(2026, 4, 2, tzinfo=UTC))
    march = await feed.items(job, 5, at=datetime(2026, 3, 2, tzinfo=UTC))
    waiting = await feed.items(job, 4, at=datetime(2026, 4, 20, tzinfo=UTC))
    sizes = read_in_chunks(monkeypatch, usage_service, usage_repository, "unpriced_usage")

    tiered = {
        "per_item": "1.00",
        "tiers": [
            {"min_quantity": 1, "max_quantity": 2, "per_item": "1.00"},
            {"min_quantity": 3, "per_item": "0.50"},
        ],
    }
    rates = {"invoice": {"per_item": "0.50"}, "receipt": tiered}
    await put_price_book(billing, tokens, client_id, effective_from="2026-03-01", rates=rates)

    async with billing_db() as session:
        lines = {
            line.item_id: line
            for line in await session.scalars(
                select(UsageLine).where(UsageLine.client_id == client_id)
            )
        }
    amounts = [lines[event.item_id].amount for event in (*march, *april, *waiting)]
    assert amounts == [
        *(Decimal(price) for price in ("1.00", "1.00", "0.50", "0.50", "0.50")),  # March
        *(Decimal(price) for price in ("1.00", "1.00", "0.50")),  # April, before the 15th
        None, None, None, None,
    ]  # fmt: skip
    events = await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id))
    priced = {line.id: line.amount for line in lines.values() if line.amount is not None}
    assert {UUID(e.data["usage_id"]): Decimal(e.data["amount"]) for e in events} == priced
    assert len(events) == 8
    assert max(sizes) == CHUNK, sizes
    assert sum(sizes) == 12, "each waiting line is read once"


async def test_waiting_earnings_are_priced_a_chunk_at_a_time(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
    feed: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work_type = f"forms-{new_id()}"
    kinds = [TaskKind.ENTRY] * 4 + [TaskKind.REVIEW] * 2 + [TaskKind.ADJUDICATION]
    tasks = [scored(new_id(), work_type=work_type, kind=kind) for kind in kinds]
    await feed.run(*tasks)
    sizes = read_in_chunks(monkeypatch, earnings_service, earnings_repository, "unpriced_earnings")

    response = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "EUR", "entry": "0.20", "review": "0.10", "adjudication": "0.30"},
        headers=tokens.manager(),
    )
    assert response.status_code == 200, response.text

    async with billing_db() as session:
        stored = {
            earning.task_id: (earning.amount, earning.currency)
            for earning in await session.scalars(
                select(Earning).where(Earning.work_type == work_type)
            )
        }
    pay = {TaskKind.ENTRY: "0.20", TaskKind.REVIEW: "0.10", TaskKind.ADJUDICATION: "0.30"}
    assert stored == {task.task_id: (Decimal(pay[task.kind]), "EUR") for task in tasks}
    events = await outbox_events(billing_db, EarningRecorded.event_type, work_type=work_type)
    assert {UUID(e.data["task_id"]): Decimal(e.data["amount"]) for e in events} == {
        task.task_id: Decimal(pay[task.kind]) for task in tasks
    }
    assert len(events) == len(tasks)
    assert max(sizes) == CHUNK, sizes
    assert sum(sizes) == len(tasks), "each waiting earning is read once"
