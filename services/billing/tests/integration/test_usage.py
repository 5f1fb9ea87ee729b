"""The usage ledger: one priced line per completed item, exactly once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select

from bpo_billing.models import UsageLine
from bpo_common.contracts import QcPolicy
from bpo_common.contracts.billing import UsageRecorded
from bpo_common.contracts.intake import ItemCompleted, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    consumer_drained,
    eventually,
    outbox_events,
)

from .conftest import (
    MONTH_START,
    Feed,
    client_with_usage,
    completions,
    draft,
    finalize,
    new_client,
    put_price_book,
    send,
)


async def usage(
    billing: httpx.AsyncClient, tokens: Tokens, client_id: UUID
) -> list[dict[str, Any]]:
    response = await billing.get(
        f"/v1/usage?client_id={client_id}&limit=500", headers=tokens.manager()
    )
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["data"]
    return lines


async def test_each_completed_item_is_one_line_priced_per_item_and_per_field(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    job = await feed.job(client_id)
    completed = await feed.items(job, 2, fields=3)
    await feed.items(job, 1, golden=True)

    lines = await usage(billing, tokens, client_id)
    assert sorted(line["item_id"] for line in lines) == sorted(str(e.item_id) for e in completed)
    for line in lines:
        assert line["priced"] is True
        assert (line["unit_price"], line["field_price"], line["amount"]) == ("0.50", "0.01", "0.53")
        assert line["currency"] == "EUR"
        assert line["invoice_id"] is None
    recorded = await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id))
    assert sorted(Decimal(e.data["amount"]) for e in recorded) == [Decimal("0.53")] * 2
    assert {e.data["item_id"] for e in recorded} == {str(e.item_id) for e in completed}


async def test_each_item_is_priced_by_the_version_in_force_when_it_completed(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    await put_price_book(
        billing,
        tokens,
        client_id,
        effective_from="2026-03-15",
        rates={"invoice": {"per_item": "0.70", "per_field": "0.01"}},
    )
    job = await feed.job(client_id)
    await feed.items(job, 1, at=MONTH_START + timedelta(days=13))  # 14 March
    await feed.items(job, 1, at=MONTH_START + timedelta(days=14))  # 15 March
    lines = sorted(await usage(billing, tokens, client_id), key=lambda line: line["completed_at"])
    assert [line["amount"] for line in lines] == ["0.53", "0.73"]
    invoice = await draft(billing, tokens, client_id)
    assert sorted((line["unit_price"], line["amount"]) for line in invoice["lines"]) == [
        ("0.53", "0.53"),
        ("0.73", "0.73"),
    ]


async def test_a_run_prices_each_line_as_alone_whatever_comes_before_it(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    """An item the prices do not cover, then one they do, in one run: the second is priced."""
    client_id = await new_client(billing, tokens)
    uncovered = await feed.job(client_id, work_type=f"forms-{new_id()}")
    covered = await feed.job(client_id)
    waiting, billed = completions(uncovered, 1) + completions(covered, 1)
    await feed.run(waiting, billed)

    lines = {line["item_id"]: line for line in await usage(billing, tokens, client_id)}
    assert (lines[str(billed.item_id)]["priced"], lines[str(billed.item_id)]["amount"]) == (
        True,
        "0.53",
    )
    assert (lines[str(waiting.item_id)]["priced"], lines[str(waiting.item_id)]["amount"]) == (
        False,
        None,
    )


async def test_a_version_that_lists_a_work_type_from_later_prices_its_items_until_then(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    """Items of a work type the version in force does not list wait; a version put later,
    taking effect later, that lists it prices them, and so those completed after it was put
    and before it takes effect, instead of leaving them waiting."""
    client_id = await new_client(billing, tokens)
    work_type = f"forms-{new_id()}"
    job = await feed.job(client_id, work_type=work_type)
    await feed.items(job, 1, at=MONTH_START + timedelta(days=1))
    await put_price_book(
        billing, tokens, client_id, effective_from="2026-03-21",
        rates={work_type: {"per_item": "0.90"}},
    )  # fmt: skip
    await feed.items(job, 1, at=MONTH_START + timedelta(days=5))
    await feed.items(job, 1, at=MONTH_START + timedelta(days=25))

    lines = sorted(await usage(billing, tokens, client_id), key=lambda line: line["completed_at"])
    assert [(line["priced"], line["amount"]) for line in lines] == [(True, "0.90")] * 3


async def test_graduated_tiers_and_rush_surcharge(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(
        billing,
        tokens,
        rates={
            "invoice": {
                "per_item": "1.00",
                "tiers": [
                    {"min_quantity": 1, "max_quantity": 2, "per_item": "1.00"},
                    {"min_quantity": 3, "per_item": "0.80"},
                ],
            }
        },
        rush={"max_sla_hours": "24", "surcharge_pct": "150"},
    )
    relaxed = await feed.job(client_id, sla_hours="48")
    rushed = await feed.job(client_id, due_at=MONTH_START + timedelta(hours=4))
    await feed.items(relaxed, 3)
    await feed.items(rushed, 1, at=MONTH_START + timedelta(days=2))
    # The next month starts from the first tier again.
    await feed.items(relaxed, 1, at=MONTH_START + timedelta(days=40))

    lines = sorted(await usage(billing, tokens, client_id), key=lambda line: line["completed_at"])
    # Same-day work at 2.5 times the price: 0.80 and 150 % on top.
    assert [line["amount"] for line in lines] == ["1.00", "1.00", "0.80", "2.00", "1.00"]
    assert [line["rush_pct"] for line in lines] == ["0.0000"] * 3 + ["150.0000", "0.0000"]


async def test_usage_its_prices_do_not_cover_waits_unpriced_until_a_version_does(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    """No price book yet, or a work type the book does not list: the line is kept (never
    lost, never billed at zero) and priced by the first version that covers it."""
    client_id = new_id()
    await feed.items(await feed.job(client_id), 2)
    waiting = await usage(billing, tokens, client_id)
    assert [(line["priced"], line["amount"]) for line in waiting] == [(False, None)] * 2
    assert await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id)) == []

    # Effective after the items completed: the first version prices what came before it.
    await put_price_book(billing, tokens, client_id, effective_from="2026-06-01")
    priced = await usage(billing, tokens, client_id)
    assert [(line["priced"], line["amount"]) for line in priced] == [(True, "0.53")] * 2
    assert (
        len(await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id)))
        == 2
    )

    await feed.items(await feed.job(client_id, work_type="passport"), 1)
    (passport,) = [line for line in await usage(billing, tokens, client_id) if not line["priced"]]
    assert passport["work_type"] == "passport"
    invoice = await draft(billing, tokens, client_id, "2026-03-01", "2026-06-30")
    assert [line["quantity"] for line in invoice["lines"]] == [2]  # not the unpriced one
    rates = {"invoice": {"per_item": "0.50"}, "passport": {"per_item": "2.00"}}
    await put_price_book(billing, tokens, client_id, effective_from="2026-07-01", rates=rates)
    lines = {line["work_type"]: line for line in await usage(billing, tokens, client_id)}
    assert (lines["passport"]["amount"], lines["passport"]["invoice_id"]) == ("2.00", None)


async def test_waiting_usage_is_priced_by_the_version_that_covers_its_day_whenever_it_came(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    """A version put back-dated behind a later one prices the waiting items of its own days;
    an item of a day the later one rules without its work type waits for a version that
    covers it, whether it completed before the back-dated version was put or after."""
    client_id = await new_client(billing, tokens)  # from January: invoices only
    await put_price_book(billing, tokens, client_id, effective_from="2026-03-01")
    passport = await feed.job(
        client_id, work_type="passport", created_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    february = await feed.items(passport, 1, at=datetime(2026, 2, 11, tzinfo=UTC))
    march = await feed.items(passport, 1, at=datetime(2026, 3, 15, tzinfo=UTC))
    rates = {"invoice": {"per_item": "0.50"}, "passport": {"per_item": "2.00"}}
    await put_price_book(billing, tokens, client_id, effective_from="2026-02-01", rates=rates)
    later = await feed.items(passport, 1, at=datetime(2026, 3, 16, tzinfo=UTC))

    def amounts(lines: list[dict[str, Any]]) -> list[str | None]:
        by_item = {line["item_id"]: line["amount"] for line in lines}
        return [by_item[str(event.item_id)] for event in (*february, *march, *later)]

    assert amounts(await usage(billing, tokens, client_id)) == ["2.00", None, None]
    await put_price_book(
        billing,
        tokens,
        client_id,
        effective_from="2026-04-01",
        rates={"passport": {"per_item": "3.00"}},
    )
    assert amounts(await usage(billing, tokens, client_id)) == ["2.00", "3.00", "3.00"]


async def test_a_client_sees_only_its_own_usage(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    mine = await client_with_usage(billing, tokens, feed, 1)
    theirs = await client_with_usage(billing, tokens, feed, 2)
    as_mine = await billing.get("/v1/usage?limit=500", headers=tokens.client(mine))
    assert {line["client_id"] for line in as_mine.json()["data"]} == {str(mine)}
    # Asking for another client's usage by id still yields only one's own.
    peeking = await billing.get(f"/v1/usage?client_id={theirs}", headers=tokens.client(mine))
    assert peeking.json()["data"] == []
    assert_problem(await billing.get("/v1/usage", headers=tokens.contractor(new_id())), 403)


async def test_redelivered_and_early_events_make_one_line_each(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
    js: JetStreamContext,
) -> None:
    """Through JetStream: an item that completes before its job reached billing is retried
    until the job is there, and an event delivered twice counts once."""
    client_id = await new_client(billing, tokens)
    job = JobCreated(
        job_id=new_id(),
        client_id=client_id,
        work_type="invoice",
        fields=[],
        qc=QcPolicy(),
        priority=50,
        due_at=None,
        sla_hours=None,
        external_ref=None,
        created_at=MONTH_START,
    )
    items = [
        wrap(
            ItemCompleted(
                item_id=new_id(),
                job_id=job.job_id,
                client_id=client_id,
                work_type="invoice",
                golden=False,
                fields=2,
                completed_at=MONTH_START + timedelta(hours=n),
            ),
            source="intake",
            client_id=client_id,
        )
        for n in range(3)
    ]
    await send(js, items[0])  # before its job
    await send(js, wrap(job, source="intake", client_id=client_id))
    for envelope in [items[1], items[1], items[2], items[0]]:
        await send(js, envelope)

    async def recorded() -> bool:
        return len(await usage(billing, tokens, client_id)) == 3

    await eventually(recorded, what="three usage lines")

    async def drained() -> bool:
        return await consumer_drained(js, "billing")

    # Every copy handled, the early one's retry included: a duplicate would have landed by now.
    await eventually(drained, what="billing's consumer to handle every copy")
    async with billing_db() as session:
        lines = (
            await session.scalars(select(UsageLine).where(UsageLine.client_id == client_id))
        ).all()
    assert sorted(line.item_id for line in lines) == sorted(
        ItemCompleted.model_validate(e.data).item_id for e in items
    )
    assert all(line.amount == Decimal("0.52") for line in lines)
    events = await outbox_events(billing_db, UsageRecorded.event_type, client_id=str(client_id))
    assert len(events) == 3


async def test_a_job_announced_twice_keeps_its_first_terms(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    job = await feed.job(client_id, sla_hours="24")
    await feed(job.model_copy(update={"sla_hours": Decimal(1)}))
    terms = await billing.get(f"/v1/jobs/{job.job_id}/terms", headers=tokens.manager())
    assert Decimal(terms.json()["sla_hours"]) == 24


async def test_a_client_sees_the_invoice_of_its_usage_once_issued_not_while_a_draft(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens)
    await feed.items(await feed.job(client_id), 2)
    invoice = await draft(billing, tokens, client_id)

    async def invoices_named(token: dict[str, str]) -> set[str | None]:
        response = await billing.get("/v1/usage?limit=500", headers=token)
        assert response.status_code == 200, response.text
        return {line["invoice_id"] for line in response.json()["data"]}

    # The draft is the back office's (a 404 to the client): its usage names none yet.
    assert await invoices_named(tokens.client(client_id)) == {None}
    assert {line["invoice_id"] for line in await usage(billing, tokens, client_id)} == {
        invoice["id"]
    }
    await finalize(billing, tokens, invoice["id"])
    assert await invoices_named(tokens.client(client_id)) == {invoice["id"]}
