"""The intake app in-process against the run's real PostgreSQL and NATS, and helpers to drive it."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import cast, func, select
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_common.tables import outbox_event
from bpo_devtools.testing import TestStack, Tokens, serve
from bpo_intake.app import create_app
from bpo_intake.models import Job
from bpo_intake.settings import Settings


@pytest.fixture(scope="module")
def intake_app(stack: TestStack) -> FastAPI:
    return create_app(stack.settings(Settings, "intake"))


@pytest.fixture(scope="module")
async def intake(intake_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(intake_app) as client:
        yield client


@pytest.fixture(scope="module")
def intake_db(intake_app: FastAPI, intake: httpx.AsyncClient) -> SessionFactory:
    """Sessions on the intake database, from the running app's own runtime."""
    sessions: SessionFactory = intake_app.state.runtime.sessions
    return sessions


async def register_client(
    intake: httpx.AsyncClient, tokens: Tokens, name: str = "Acme Insurance"
) -> UUID:
    """Register a client company as a manager would; returns its id."""
    response = await intake.post("/v1/clients", json={"name": name}, headers=tokens.manager())
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def job_body(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/jobs body: an invoice-keying job without items."""
    return {
        "work_type": "invoice",
        "fields": [
            {"name": "invoice_number", "type": "string"},
            {"name": "total", "type": "decimal"},
            {"name": "issued_on", "type": "date", "required": False},
        ],
        "qc": {"mode": "double", "review_sample_rate": "0.1"},
        "sla_hours": 24,
        "priority": 70,
        "external_ref": f"batch-{new_id()}",
        **overrides,
    }


async def create_job(
    intake: httpx.AsyncClient, tokens: Tokens, client_id: UUID, **overrides: Any
) -> dict[str, Any]:
    response = await intake.post(
        "/v1/jobs", json=job_body(**overrides), headers=tokens.client(client_id)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count_jobs(sessions: SessionFactory, client_id: UUID) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Job).where(Job.client_id == client_id)
        return int((await session.execute(query)).scalar_one())


async def outbox_envelopes(sessions: SessionFactory, job_id: UUID) -> list[Envelope]:
    """Every event in the intake outbox about one job, sent or not, oldest first."""
    envelope = cast(func.convert_from(outbox_event.c.payload, "UTF8"), JSONB)
    async with sessions() as session:
        payloads = await session.scalars(
            select(outbox_event.c.payload)
            .where(envelope[("data", "job_id")].as_string() == str(job_id))
            .order_by(outbox_event.c.id)
        )
        return [Envelope.model_validate_json(payload) for payload in payloads]
