"""The intake app in-process against the run's real PostgreSQL and NATS, and helpers to drive it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Browser, async_playwright
from sqlalchemy import func, select

from bpo_common.crypto import DataKeys, LocalKeyRing
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_common.messaging import connect
from bpo_common.settings import Component
from bpo_devtools.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TestStack,
    Tokens,
    opened,
    outbox_events,
    serve,
    serve_http,
)
from bpo_intake.app import create_app
from bpo_intake.models import Item, Job
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.service.webhooks import Sender
from bpo_intake.settings import Settings

from .browsing import Served


@pytest.fixture(scope="module")
def intake_app(stack: TestStack) -> FastAPI:
    return create_app(stack.settings(Settings, "intake"))


@pytest.fixture(scope="module")
async def intake(intake_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(intake_app) as client:
        yield client


@pytest.fixture(scope="session")
def data_keys(stack: TestStack) -> DataKeys:
    """Jobs' data keys, as intake's processes unwrap them (with the run's KEK)."""
    return DataKeys(LocalKeyRing.parse(stack.kek))


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


async def opened_events(
    sessions: SessionFactory, keys: DataKeys, subject: str | None = None, **data: str
) -> list[Envelope]:
    """Events in intake's outbox (as `outbox_events` finds them), the values they carry opened
    with their jobs' data keys."""
    found = await outbox_events(sessions, subject, **data)
    job_ids = {UUID(e.data["job_id"]) for e in found if "job_id" in e.data}
    async with sessions() as session:
        wrapped = await jobs_repository.data_keys_of(session, job_ids)
    shown = []
    for event in found:
        job_id = UUID(event.data["job_id"]) if "job_id" in event.data else None
        stored = wrapped.get(job_id) if job_id else None
        shown.append(opened(event, keys.of(job_id, stored)) if job_id and stored else event)
    return shown


async def count_jobs(sessions: SessionFactory, client_id: UUID) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Job).where(Job.client_id == client_id)
        return int((await session.execute(query)).scalar_one())


def scan_items(count: int) -> list[dict[str, Any]]:
    """`count` items of a POST /v1/jobs body: scans with an external id and a page number."""
    return [
        {"external_id": f"scan-{n}", "source": {"image": f"s3://scans/{n}.png", "page": n}}
        for n in range(count)
    ]


async def stored_items(sessions: SessionFactory, job_id: UUID | str) -> list[Item]:
    """A job's items as stored, oldest first."""
    async with sessions() as session:
        query = select(Item).where(Item.job_id == UUID(str(job_id))).order_by(Item.id)
        return list(await session.scalars(query))


# Webhooks: apps whose own sender is stopped, so that each test sends with the `now` it chooses


@asynccontextmanager
async def serve_without_sender(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as api:
        (sender,) = [t for t in app.state.runtime.tasks if t.get_name() == "deliver_webhooks"]
        sender.cancel()
        yield api


@pytest.fixture(scope="module")
def lenient_settings(stack: TestStack) -> Settings:
    """Settings that let webhooks go to this machine, where the test receivers listen."""
    return stack.settings(Settings, "intake", webhook_allow_private=True)


@pytest.fixture(scope="module")
def strict_settings(stack: TestStack) -> Settings:
    return stack.settings(Settings, "intake")


@pytest.fixture(scope="module")
def lenient_app(lenient_settings: Settings) -> FastAPI:
    return create_app(lenient_settings)


@pytest.fixture(scope="module")
async def lenient(lenient_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_without_sender(lenient_app) as api:
        yield api


@pytest.fixture(scope="module")
async def strict(strict_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_without_sender(create_app(strict_settings)) as api:
        yield api


@pytest.fixture(scope="module")
def db(lenient_app: FastAPI, lenient: httpx.AsyncClient) -> SessionFactory:
    sessions: SessionFactory = lenient_app.state.runtime.sessions
    return sessions


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


# One pass of the webhook sender, at the `now` a test chooses; returns how many it tried.
Send = Callable[[datetime], Awaitable[int]]


async def send_once(
    sessions: SessionFactory, http: httpx.AsyncClient, settings: Settings, now: datetime
) -> int:
    """One step of a sender, its sends ended; how many it tried."""
    async with asyncio.TaskGroup() as sends:
        return await Sender(sessions, http, settings, sends).step(now)


@pytest.fixture
def send(db: SessionFactory, http: httpx.AsyncClient, lenient_settings: Settings) -> Send:
    """A pass of the sender with the lenient settings, as the lenient app would make it."""

    async def send_due(now: datetime) -> int:
        return await send_once(db, http, lenient_settings, now)

    return send_due


# Documents: an app whose store is a directory of the test module's own, with low limits.

DOCUMENT_LINK_SECRET = "test-document-links-signed-with-this-secret"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(scope="module")
def documents_app(stack: TestStack, store_dir: Path) -> FastAPI:
    settings = stack.settings(
        Settings,
        "intake",
        document_store_url=store_dir.as_uri(),
        document_url_secret=DOCUMENT_LINK_SECRET,
        document_max_bytes=200_000,
        document_max_pages=5,
        document_max_pixels=1_000_000,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
async def documents_api(documents_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(documents_app) as client:
        yield client


@pytest.fixture(scope="module")
def documents_db(documents_app: FastAPI, documents_api: httpx.AsyncClient) -> SessionFactory:
    factory: SessionFactory = documents_app.state.runtime.sessions
    return factory


def worker_free(store: str) -> tuple[Any, Any]:
    """A module's `settings` and `db` fixtures, for its own app without workers (so that none
    runs beside a step the test runs itself), its documents in a folder named `store`:
    `settings, db = worker_free("pages-to-read")`."""

    @pytest.fixture(scope="module", name="settings")
    def settings(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Settings:
        return stack.settings(
            Settings,
            "intake",
            component=Component.API,
            document_store_url=tmp_path_factory.mktemp(store).as_uri(),
            document_url_secret=DOCUMENT_LINK_SECRET,
        )

    @pytest.fixture(scope="module", name="db")
    def db(app: FastAPI, api: httpx.AsyncClient) -> SessionFactory:
        factory: SessionFactory = app.state.runtime.sessions
        return factory

    return settings, db


# A module's own app, for a module that names its `settings` (or its `app`).


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="module")
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


# The workbench in Chromium: the app under uvicorn on a free port, and the browser.


@pytest.fixture(scope="module")
async def served(stack: TestStack, store_dir: Path) -> AsyncIterator[Served]:
    app = create_app(stack.settings(Settings, "intake", document_store_url=store_dir.as_uri()))
    async with serve_http(app) as url:
        yield Served(url, app)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """Chromium, launched once for every module's browser tests (a launch takes a second)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The run's Chromium for a module's tests: the pages they left open close with the
    module, as they did when each module launched a Chromium of its own."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    """JetStream, to publish what another service would."""
    client = await connect(stack.urls.nats_url, name="intake-tests")
    yield client.jetstream()
    await client.close()
