"""OCR's attempts at a page: one Tesseract is killed on is read again, then taken as having no
words; an engine that stops working ends its batch without undoing what the batch counted.
Tesseract is the real one, behind a wrapper of the test's that fails it as the test says."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, eventually
from bpo_intake.app import create_app
from bpo_intake.models import DocumentPage
from bpo_intake.service.extraction import READ_ATTEMPTS
from bpo_intake.settings import Settings

from .conftest import create_job, register_client
from .documents import upload, zipped
from .invoices import FIELDS, extracted_invoices, invoice_pdf, invoices, scanned
from .tesseracts import WrappedTesseract, wrapped_tesseract


@pytest.fixture(scope="module")
def intake_app(stack: TestStack, store_dir: Path) -> FastAPI:
    return create_app(stack.settings(Settings, "intake", document_store_url=store_dir.as_uri()))


@pytest.fixture
def tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., WrappedTesseract]:
    """Tesseract as it is, but for the lines of Python given that may end it first
    (`wrapped_tesseract`), first on the app's PATH."""

    def that(*before: str) -> WrappedTesseract:
        wrapper = wrapped_tesseract(tmp_path, *before)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        return wrapper

    return that


@pytest.fixture
async def job(intake: httpx.AsyncClient, tokens: Tokens) -> tuple[UUID, dict[str, Any]]:
    """A new client's job of invoices, and the client."""
    client_id = await register_client(intake, tokens)
    skills = [f"x-{new_id()}"]
    made = await create_job(
        intake, tokens, client_id, fields=FIELDS, qc={"mode": "single"}, required_skills=skills
    )
    return client_id, made


async def pages_of(db: SessionFactory, document_ids: list[str]) -> list[DocumentPage]:
    async with db() as session:
        query = (
            select(DocumentPage)
            .where(DocumentPage.document_id.in_([UUID(i) for i in document_ids]))
            .order_by(DocumentPage.document_id)
        )
        return list(await session.scalars(query))


async def test_a_page_tesseract_keeps_being_killed_on_is_read_again_then_taken_as_wordless(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    tesseract: Callable[..., WrappedTesseract],
    job: tuple[UUID, dict[str, Any]],
) -> None:
    # Killed (as for memory) on any image larger than a blank page.
    tesseract("if len(image) > 10_000:", "    os.kill(os.getpid(), 9)")
    client_id, made = job
    scan = scanned(invoice_pdf("Brandt", invoices(1, seed=5)[0]))

    (item,) = await extracted_invoices(
        intake, intake_db, tokens, client_id, made["id"], {"s.png": scan}
    )

    (page,) = await pages_of(intake_db, [str(item.documents[0])])
    assert page.read_attempts == READ_ATTEMPTS
    assert page.read_at is not None
    assert page.words is None
    assert item.suggestions == {}


async def test_an_engine_that_stops_working_keeps_what_its_batch_counted(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    tesseract: Callable[..., WrappedTesseract],
    job: tuple[UUID, dict[str, Any]],
) -> None:
    # Killed on the first page (it still reads the blank page it is then tried on: the
    # page's attempt counts), then no longer able to start at all.
    engine = tesseract(
        "if calls == 0:",
        "    os.kill(os.getpid(), 9)",
        "if calls >= 2:",
        "    sys.stderr.write('Error opening data file eng.traineddata')",
        "    sys.exit(1)",
    )
    client_id, made = job
    scans = {
        f"{n}.png": scanned(invoice_pdf("Brandt", invoice), seed=n)
        for n, invoice in enumerate(invoices(2, seed=6))
    }
    # In one zip: rendered together, so that one batch of OCR takes both pages.
    body = zipped(scans)
    uploaded = await upload(
        intake, tokens, client_id, made["id"], body, content_type="application/zip"
    )
    assert uploaded.status_code == 201, uploaded.text
    ids = [document["id"] for document in uploaded.json()["documents"]]

    async def tried() -> bool:
        return engine.called() >= 6

    await eventually(tried, what="the engine tried again after it stopped working")

    async def counted() -> bool:
        # Looked at between passes: a pass counts the second page's attempt as it starts to
        # read it, and gives it back once the engine fails.
        first, second = await pages_of(intake_db, ids)
        return (first.read_attempts, second.read_attempts) == (1, 0)

    # The attempt of the batch the engine stopped in is kept; an engine away is no page's fault.
    await eventually(counted, what="the first page's attempt kept, the second's given back")
    assert [page.read_at for page in await pages_of(intake_db, ids)] == [None, None]
