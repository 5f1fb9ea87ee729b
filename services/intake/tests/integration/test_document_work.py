"""Documents' background work, each step run by the test in an app without workers (so that
none runs beside it): rendering commits each document on its own."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from bpo_common.db import SessionFactory
from bpo_common.settings import Component
from bpo_devtools.testing import TestStack, Tokens, assert_problem, serve
from bpo_intake.app import create_app
from bpo_intake.domain.documents import MediaType, RenderedPage
from bpo_intake.models import Document
from bpo_intake.service import documents
from bpo_intake.settings import Settings

from .conftest import DOCUMENT_LINK_SECRET, create_job
from .documents import invoice_pdf, open_job, upload


@pytest.fixture(scope="module")
def settings(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    store = tmp_path_factory.mktemp("documents-at-work")
    return stack.settings(
        Settings,
        "intake",
        component=Component.API,
        document_store_url=store.as_uri(),
        document_url_secret=DOCUMENT_LINK_SECRET,
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="module")
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


@pytest.fixture(scope="module")
def db(app: FastAPI, api: httpx.AsyncClient) -> SessionFactory:
    factory: SessionFactory = app.state.runtime.sessions
    return factory


async def _render_all(settings: Settings, db: SessionFactory) -> None:
    """What the renderer's loop does, until no document is left to render."""
    store, reader = documents.document_store(settings), documents.document_decoder(settings)
    awaited: dict[UUID, datetime] = {}
    while await documents.render_pending(db, store, reader, awaited) == documents.RENDER_BATCH:
        pass


async def _document(db: SessionFactory, document_id: str) -> Document:
    async with db() as session:
        found = await session.get(Document, UUID(document_id))
    assert found is not None
    return found


async def test_a_document_is_shown_as_soon_as_it_is_drawn_and_its_erasure_waits_for_no_other(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_id, job = await open_job(api, tokens)
    other_job = await create_job(api, tokens, client_id)
    first, second = invoice_pdf("FIRST-1"), invoice_pdf("SECOND-1")
    made: dict[str, Any] = {}
    for name, pdf, job_id in (("first", first, job["id"]), ("second", second, other_job["id"])):
        uploaded = await upload(api, tokens, client_id, job_id, pdf, filename=f"{name}.pdf")
        assert uploaded.status_code == 201, uploaded.text
        made[name] = uploaded.json()["id"]
    # The second document takes its time to be drawn: until the test lets it go.
    reader = documents.document_decoder(settings)
    drawing, go = asyncio.Event(), asyncio.Event()
    render = reader.render

    async def slow_on_the_second(kind: MediaType, content: bytes, pages: int) -> list[RenderedPage]:
        if content == second:
            drawing.set()
            await go.wait()
        return await render(kind, content, pages)

    monkeypatch.setattr(reader, "render", slow_on_the_second)
    renderer = asyncio.create_task(_render_all(settings, db))
    try:
        await asyncio.wait_for(drawing.wait(), timeout=30)

        # The first is committed while the second is drawn: its pages are shown.
        assert (await _document(db, made["first"])).rendered_at is not None
        view = await api.get(f"/v1/documents/{made['first']}", headers=tokens.manager())
        picture = await api.get(view.json()["pages"][0]["image_url"])
        assert picture.status_code == 200, picture.text
        assert picture.content[8:12] == b"WEBP"
        drawn = await api.get(f"/v1/documents/{made['second']}", headers=tokens.manager())
        still = await api.get(drawn.json()["pages"][0]["image_url"])
        assert "still being rendered" in assert_problem(still, 409)["detail"]

        # The first's job is erased at once: nothing of it is held by the renderer.
        erasing = api.delete(f"/v1/jobs/{job['id']}/data", headers=tokens.client(client_id))
        erased = await asyncio.wait_for(erasing, timeout=10)
        assert erased.status_code == 202, erased.text
        assert (await _document(db, made["first"])).deleted_at is not None
    finally:
        go.set()
        await renderer
    assert (await _document(db, made["second"])).rendered_at is not None
