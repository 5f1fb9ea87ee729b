"""Documents' background work, each step run by the test in an app without workers (so that
none runs beside it): rendering commits each document on its own; a scan with a few words of
text is read by OCR, and an erasure does not wait for OCR of its pages; extraction holds a
client's layouts before it locks a layout's row."""

import asyncio
import io
import shutil
import sys
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fpdf import FPDF
from sqlalchemy import select, update

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    eventually,
    someone_waits_for_a_lock,
)
from bpo_intake.domain.documents import MediaType, RenderedPage
from bpo_intake.models import Document, DocumentPage, Item, Layout
from bpo_intake.repository import extraction as extraction_repository
from bpo_intake.service import documents, extraction, rendering
from bpo_intake.service.ocr import Tesseract
from bpo_intake.settings import Settings

from . import documents as test_documents
from .conftest import create_job, register_client, worker_free
from .documents import open_job, upload
from .invoices import FIELDS, Invoice, invoice_pdf, invoices, scanned

settings, db = worker_free("documents-at-work")


async def _render_all(settings: Settings, db: SessionFactory) -> None:
    """What the renderer's loop does, until no document is left to render."""
    store, reader = documents.document_store(settings), documents.document_decoder(settings)
    awaited: dict[UUID, datetime] = {}
    while await rendering.render_pending(db, store, reader, awaited) == rendering.RENDER_BATCH:
        pass


async def _read_all(settings: Settings, db: SessionFactory) -> None:
    """What the page reader's loop does, until no page is left to read (pages other modules
    left unread have their images in other stores: read at once, as having no words)."""
    store = documents.document_store(settings)
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s)
    while await extraction.read_pending(db, store, engine) == extraction.OCR_BATCH:
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
    first, second = test_documents.invoice_pdf("FIRST-1"), test_documents.invoice_pdf("SECOND-1")
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


def _stamped_scan(invoice: Invoice) -> bytes:
    """A scanner's PDF: the invoice's page as a picture, with a receipt stamped as text (six
    words, which a word count would take for a typed page's)."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(io.BytesIO(scanned(invoice_pdf("Brandt", invoice))), x=0, y=0, w=210, h=297)
    pdf.set_font("helvetica", size=14)
    pdf.text(110, 15, "Received 12.03.2024 by AP Dept Berlin")
    return bytes(pdf.output())


async def test_a_scan_with_a_stamp_of_text_on_it_is_read_by_ocr(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings
) -> None:
    client_id, job = await open_job(api, tokens)
    (invoice,) = invoices(1, seed=8)
    uploaded = await upload(
        api, tokens, client_id, job["id"], _stamped_scan(invoice), filename="scan.pdf"
    )
    assert uploaded.status_code == 201, uploaded.text
    document_id = UUID(uploaded.json()["id"])
    await _render_all(settings, db)
    query = select(DocumentPage).where(DocumentPage.document_id == document_id)
    async with db() as session:
        (page,) = await session.scalars(query)
    assert (page.read_at, page.words) == (None, None), "left to OCR, the stamp no page's words"

    await _read_all(settings, db)
    async with db() as session:
        (page,) = await session.scalars(query)
    assert page.read_at is not None
    said = [word["text"] for word in page.words or []]
    assert invoice.number in said, "OCR's words: the invoice's"
    assert all(word["confidence"] < 1 for word in page.words or [])


@dataclass(frozen=True)
class HeldTesseract:
    """Tesseract as it is, once the test lets it start: a wrapper that notes each call in
    `calls`, then waits for `go` to exist."""

    wrapper: Path
    calls: Path
    go: Path

    @classmethod
    def made_in(cls, directory: Path) -> "HeldTesseract":
        held = cls(directory / "tesseract", directory / "calls", directory / "go")
        held.wrapper.write_text(
            "\n".join(
                [
                    f"#!{sys.executable}",
                    "import pathlib, subprocess, sys, time",
                    "image = sys.stdin.buffer.read()",
                    f"with open({str(held.calls)!r}, 'a') as noted:",
                    "    noted.write('called\\n')",
                    f"while not pathlib.Path({str(held.go)!r}).exists():",
                    "    time.sleep(0.05)",
                    f"done = subprocess.run([{shutil.which('tesseract')!r}, *sys.argv[1:]],",
                    "                      input=image, capture_output=True)",
                    "sys.stdout.buffer.write(done.stdout)",
                    "sys.exit(done.returncode)",
                    "",
                ]
            )
        )
        held.wrapper.chmod(0o755)
        held.calls.touch()
        return held

    def called(self) -> int:
        return len(self.calls.read_text().splitlines())

    def let_go(self) -> None:
        self.go.touch()


async def test_an_erasure_does_not_wait_for_ocr_of_its_pages_nor_are_their_words_kept(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    await _read_all(settings, db)  # no other page is read meanwhile: the scan's alone
    client_id, job = await open_job(api, tokens)
    scan = scanned(invoice_pdf("Brandt", invoices(1, seed=9)[0]))
    uploaded = await upload(api, tokens, client_id, job["id"], scan, filename="scan.png")
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["id"]
    await _render_all(settings, db)
    held = HeldTesseract.made_in(tmp_path)
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s, str(held.wrapper))
    store = documents.document_store(settings)
    reader = asyncio.create_task(extraction.read_pending(db, store, engine))
    erasing: asyncio.Task[httpx.Response] | None = None
    try:

        async def reading() -> bool:
            return held.called() == 1

        await eventually(reading, what="Tesseract called on the scan")
        # Another reader passes over the page being read, rather than read it twice.
        assert await extraction.read_pending(db, store, engine) == 0
        assert held.called() == 1

        # The job is erased while Tesseract reads its page: no transaction waits for it.
        headers = tokens.client(client_id)
        erasing = asyncio.create_task(api.delete(f"/v1/jobs/{job['id']}/data", headers=headers))
        async with db() as watching:
            waiting = asyncio.create_task(someone_waits_for_a_lock(watching))
            done, _ = await asyncio.wait({erasing, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            # Its query ended before its session closes (closed mid-query, SQLAlchemy refuses).
            with suppress(asyncio.CancelledError):
                await waiting
        assert erasing in done, "the erasure waited for a lock the page reader holds"
        assert erasing.result().status_code == 202, erasing.result().text
        assert (await _document(db, document_id)).deleted_at is not None
    finally:
        held.let_go()
        read = await reader
        if erasing is not None:
            await erasing
    # What Tesseract read once the page's document was erased is not stored.
    assert read == 0
    async with db() as session:
        (page,) = await session.scalars(
            select(DocumentPage).where(DocumentPage.document_id == UUID(document_id))
        )
    assert (page.text, page.words) == (None, None)


async def _items(db: SessionFactory, job_id: str) -> dict[str, Item]:
    async with db() as session:
        query = select(Item).where(Item.job_id == UUID(job_id))
        return {str(item.external_id): item for item in await session.scalars(query)}


async def _extracted(db: SessionFactory, keys: DataKeys, job_id: str) -> dict[str, Item]:
    """The job's items, once extraction has read them all."""
    async with db() as session, session.begin():
        await extraction.extract_pending(session, keys)
    items = await _items(db, job_id)
    assert all(item.extracted_at is not None for item in items.values())
    return items


async def test_a_run_learning_from_a_layout_and_one_matching_a_document_to_it_both_commit(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    data_keys: DataKeys,
) -> None:
    client_id = await register_client(api, tokens)
    job = await create_job(api, tokens, client_id, fields=FIELDS, qc={"mode": "single"})
    accepted, *_ = batch = invoices(3, seed=45)
    for name, invoice in zip("abc", batch, strict=True):
        pdf = invoice_pdf("Brandt", invoice)
        uploaded = await upload(api, tokens, client_id, job["id"], pdf, filename=f"{name}.pdf")
        assert uploaded.status_code == 201, uploaded.text
    items = [{"external_id": name, "source": {}, "documents": [f"{name}.pdf"]} for name in "abc"]
    url, client = f"/v1/jobs/{job['id']}/items", tokens.client(client_id)
    assert (await api.post(url, json={"items": items}, headers=client)).status_code == 202
    await _render_all(settings, db)
    before = await _extracted(db, data_keys, job["id"])
    layout_id = before["a"].layout_id
    assert {item.layout_id for item in before.values()} == {layout_id}, "one supplier"
    # Item a was accepted (the one run learns from it); c is new (read in the same run). The
    # layout learnt from two before: a third does not have its items read again.
    async with db() as session, session.begin():
        await session.execute(update(Layout).where(Layout.id == layout_id).values(learned=2))
        learn = {"learn_pending": True, "result": accepted.keyed}
        await session.execute(update(Item).where(Item.id == before["a"].id).values(**learn))
        new = {"extracted_at": None, "layout_id": None}
        await session.execute(update(Item).where(Item.id == before["c"].id).values(**new))

    async def run() -> None:
        async with db() as session, session.begin():
            await extraction.extract_pending(session, data_keys)

    # Another run holds the client's layouts while the first starts; then it matches item b,
    # new meanwhile, to the layout the first learns from.
    async with db() as other, other.begin():
        await extraction_repository.lock_layouts(other, [client_id])
        learning = asyncio.create_task(run())
        await someone_waits_for_a_lock(other)
        async with db() as session, session.begin():
            await session.execute(update(Item).where(Item.id == before["b"].id).values(**new))
        await extraction.extract_pending(other, data_keys)
    await asyncio.wait_for(learning, timeout=30)

    after = await _items(db, job["id"])
    assert all(item.extracted_at is not None for item in after.values())
    assert {item.layout_id for item in after.values()} == {layout_id}
    assert after["b"].suggestions, "the other's match committed"
    assert after["c"].suggestions, "the learning run's match committed"
    assert not after["a"].learn_pending
    async with db() as session:
        layout = await session.get(Layout, layout_id)
    assert layout is not None
    assert (layout.documents, layout.learned) == (5, 3), "both runs counted what they read"
