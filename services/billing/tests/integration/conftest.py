"""The billing app in-process against the run's real PostgreSQL and NATS, and helpers that
feed it the events intake and validation would send."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from bpo_billing.app import create_app
from bpo_billing.consumers import subscriptions
from bpo_billing.settings import Settings
from bpo_common.contracts import ExceptionAction, FieldSpec, QcPolicy, TaskKind, TaskOutcome
from bpo_common.contracts.intake import ItemCompleted, JobCompleted, JobCreated
from bpo_common.contracts.validation import (
    ContractorScored,
    ExceptionResolved,
    JobAccuracyDelivered,
)
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, Event, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import Subscription
from bpo_common.messaging import connect
from bpo_common.rules import FieldType
from bpo_devtools.testing import TestStack, Tokens, serve

# Items completed in this month, so that invoice periods and tiers are easy to reason about.
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def billing_settings(stack: TestStack) -> Settings:
    return stack.settings(Settings, "billing", overturned_fraction=Decimal("0.4"))


@pytest.fixture(scope="module")
async def billing_app(billing_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(billing_settings)
    async with serve(app) as client:
        app.state.client = client
        yield app


@pytest.fixture(scope="module")
def billing(billing_app: FastAPI) -> httpx.AsyncClient:
    client: httpx.AsyncClient = billing_app.state.client
    return client


@pytest.fixture(scope="module")
def billing_db(billing_app: FastAPI) -> SessionFactory:
    sessions: SessionFactory = billing_app.state.runtime.sessions
    return sessions


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    """JetStream, for the tests that send events the way other services do."""
    client = await connect(stack.urls.nats_url, name="billing-test")
    yield client.jetstream()
    await client.close()


async def send(js: JetStreamContext, envelope: Envelope) -> None:
    """Publish an event to the stream as its source's relay would, for billing's consumer."""
    await js.publish(envelope.subject, envelope.model_dump_json().encode())


@pytest.fixture(scope="module")
def feed(billing_db: SessionFactory, billing_settings: Settings) -> "Feed":
    return Feed(billing_db, subscriptions(billing_settings)[0])


class Feed:
    """Hands events to billing's own handlers, each in its transaction, as its consumer does
    (without the trip through JetStream; tests of redelivery take that trip)."""

    def __init__(self, sessions: SessionFactory, subscription: Subscription) -> None:
        self.sessions = sessions
        self.handlers = subscription.handlers

    async def __call__(self, *events: Event) -> None:
        for event in events:
            envelope = wrap(event, source="test")
            async with self.sessions() as session, session.begin():
                await self.handlers[envelope.type](session, [envelope])

    async def run(self, *events: Event) -> None:
        """Hands events of one type to billing's handler as one run, in one transaction, as
        the consumer does with a batch."""
        envelopes = [wrap(event, source="test") for event in events]
        async with self.sessions() as session, session.begin():
            await self.handlers[envelopes[0].type](session, envelopes)

    async def job(
        self,
        client_id: UUID,
        *,
        work_type: str = "invoice",
        sla_hours: str | None = None,
        due_at: datetime | None = None,
        created_at: datetime = MONTH_START,
        external_ref: str | None = None,
    ) -> JobCreated:
        job = JobCreated(
            job_id=new_id(),
            client_id=client_id,
            work_type=work_type,
            fields=[FieldSpec(name="total", type=FieldType.DECIMAL)],
            qc=QcPolicy(),
            priority=50,
            due_at=due_at,
            sla_hours=Decimal(sla_hours) if sla_hours else None,
            external_ref=external_ref,
            created_at=created_at,
        )
        await self(job)
        return job

    async def items(
        self,
        job: JobCreated,
        count: int,
        *,
        fields: int = 3,
        at: datetime = MONTH_START + timedelta(days=1),
        golden: bool = False,
    ) -> list[ItemCompleted]:
        events = completions(job, count, fields=fields, at=at, golden=golden)
        await self(*events)
        return events

    async def job_completed(self, job: JobCreated, completed_at: datetime) -> None:
        await self(
            JobCompleted(
                job_id=job.job_id,
                client_id=job.client_id,
                work_type=job.work_type,
                due_at=job.due_at,
                items_completed=1,
                items_rejected=0,
                completed_at=completed_at,
            )
        )

    async def accuracy_delivered(
        self,
        job: JobCreated,
        *,
        met: bool,
        target: str = "0.995",
        estimate: float = 0.9891,
        assured: float = 0.987,
        at: datetime = MONTH_START + timedelta(days=2),
    ) -> JobAccuracyDelivered:
        """Validation's word on an adaptive job that completed: by default it delivered
        98.91 % (95 % lower bound 98.70 %) against a 99.50 % target."""
        event = JobAccuracyDelivered(
            job_id=job.job_id,
            client_id=job.client_id,
            work_type=job.work_type,
            target=Decimal(target),
            items=100,
            single_keyed=80,
            keyed_twice=20,
            estimate=estimate,
            lower=estimate - 0.003,
            upper=estimate + 0.003,
            assured=assured,
            met=met,
            decided_at=at,
        )
        await self(event)
        return event

    async def scored(self, contractor_id: UUID, **task: Any) -> ContractorScored:
        event = scored(contractor_id, **task)
        await self(event)
        return event

    async def resolved(self, job: JobCreated, **resolution: Any) -> ExceptionResolved:
        event = resolved(job, **resolution)
        await self(event)
        return event


def completions(
    job: JobCreated,
    count: int,
    *,
    fields: int = 3,
    at: datetime = MONTH_START + timedelta(days=1),
    golden: bool = False,
) -> list[ItemCompleted]:
    """`count` items of the job completed a second apart from `at`."""
    return [
        ItemCompleted(
            item_id=new_id(),
            job_id=job.job_id,
            client_id=job.client_id,
            work_type=job.work_type,
            golden=golden,
            fields=fields,
            completed_at=at + timedelta(seconds=n),
        )
        for n in range(count)
    ]


def scored(
    contractor_id: UUID,
    *,
    outcome: TaskOutcome = TaskOutcome.ACCEPTED,
    kind: TaskKind = TaskKind.ENTRY,
    work_type: str = "invoice",
    at: datetime = MONTH_START + timedelta(days=2),
    client_id: UUID | None = None,
    job_id: UUID | None = None,
    active_seconds: float | None = None,
    share: Decimal = Decimal(1),
) -> ContractorScored:
    """A task of the contractor's, scored (`share`: of its job's fields, a partial keying's)."""
    return ContractorScored(
        task_id=new_id(),
        item_id=new_id(),
        job_id=job_id or new_id(),
        client_id=client_id or new_id(),
        contractor_id=contractor_id,
        work_type=work_type,
        kind=kind,
        outcome=outcome,
        golden=False,
        fields_judged=3,
        fields_correct=3,
        share=share,
        active_seconds=active_seconds,
        submitted_at=at,
        decided_at=at,
    )


def resolved(
    job: JobCreated,
    *,
    by_client: bool = True,
    item_id: UUID | None = None,
    at: datetime = MONTH_START + timedelta(days=3),
) -> ExceptionResolved:
    """A match exception on an item of the job (a new one unless `item_id`), resolved by the
    client's accounts-payable team (or, `by_client=False`, by the back office)."""
    return ExceptionResolved(
        exception_id=new_id(),
        item_id=item_id or new_id(),
        job_id=job.job_id,
        client_id=job.client_id,
        action=ExceptionAction.ACCEPT,
        by_client=by_client,
        resolved_at=at,
    )


def price_book(**overrides: Any) -> dict[str, Any]:
    """A valid PUT /v1/price-books body: EUR, 21% tax, invoices at 0.50 plus 0.01 a field."""
    return {
        "currency": "EUR",
        "tax_rate": "0.21",
        "rates": {"invoice": {"per_item": "0.50", "per_field": "0.01"}},
        "sla_credit_pct": "10",
        "effective_from": "2026-01-01",
        **overrides,
    }


async def put_price_book(
    billing: httpx.AsyncClient, tokens: Tokens, client_id: UUID, **book: Any
) -> dict[str, Any]:
    """A new version of the client's price book (`price_book()` with these overrides), put
    by a manager; returns it as stored."""
    response = await billing.put(
        f"/v1/price-books/{client_id}", json=price_book(**book), headers=tokens.manager()
    )
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


async def new_client(billing: httpx.AsyncClient, tokens: Tokens, **book: Any) -> UUID:
    """A new client id with a price book (`price_book()` with these overrides)."""
    client_id = new_id()
    await put_price_book(billing, tokens, client_id, **book)
    return client_id


async def client_with_usage(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed, items: int, **book: Any
) -> UUID:
    """A new client with a price book (`price_book()` with these overrides) and `items`
    items of one job completed in March."""
    client_id = await new_client(billing, tokens, **book)
    await feed.items(await feed.job(client_id), items)
    return client_id


async def client_below_target(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> tuple[UUID, JobCreated]:
    """A new client whose price book credits 10 % of a job below its accuracy target, and its
    job `below`: 3 items at 10.00 completed in March, and validation's word that it did not
    deliver its target (`Feed.accuracy_delivered`'s figures)."""
    client_id = await new_client(
        billing, tokens, rates={"invoice": {"per_item": "10"}}, accuracy_credit_pct="10"
    )
    job = await feed.job(client_id, external_ref="below")
    await feed.items(job, 3)
    await feed.accuracy_delivered(job, met=False)
    return client_id, job


def draft_body(
    client_id: UUID, start: str = "2026-03-01", end: str = "2026-03-31"
) -> dict[str, str]:
    """A POST /v1/invoices body: the client's invoice of a period, by default March."""
    return {"client_id": str(client_id), "period_start": start, "period_end": end}


async def draft(
    billing: httpx.AsyncClient,
    tokens: Tokens,
    client_id: UUID,
    start: str = "2026-03-01",
    end: str = "2026-03-31",
) -> dict[str, Any]:
    response = await billing.post(
        "/v1/invoices", json=draft_body(client_id, start, end), headers=tokens.manager()
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def finalize(billing: httpx.AsyncClient, tokens: Tokens, invoice_id: str) -> dict[str, Any]:
    response = await billing.post(f"/v1/invoices/{invoice_id}/finalize", headers=tokens.manager())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def finalized_invoice(
    billing: httpx.AsyncClient, tokens: Tokens, client_id: UUID
) -> dict[str, Any]:
    """The client's March invoice, drafted and finalized."""
    return await finalize(billing, tokens, (await draft(billing, tokens, client_id))["id"])
