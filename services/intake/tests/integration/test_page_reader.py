"""The page reader run by the test in an app without workers (so that none runs beside it): it
reads a page on the one connection a pool of one gives it, a page another reader stored words
for after this one listed it is not read again, and it takes a page's document before the page,
as an erasure does. A read is counted before it starts, with no transaction open while it runs:
a server that ends idle transactions stops nothing, a page whose reads never end (the
reader killed mid-read) is passed over for others, then taken as having no words, and a reader
stopped gracefully, or that cannot store the words it read, gives its page back uncounted; a
page a reader of the release before holds by its advisory lock is passed over."""

import asyncio
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bpo_common.clock import utcnow
from bpo_common.db import (
    SessionFactory,
    create_engine,
    create_session_factory,
    engine_url,
    try_advisory_lock,
)
from bpo_devtools.testing import Tokens, eventually, someone_waits_for_a_lock
from bpo_intake.domain.words import Word
from bpo_intake.models import Document, DocumentPage
from bpo_intake.repository import erasure as erasure_repository
from bpo_intake.repository import extraction as extraction_repository
from bpo_intake.service import documents, extraction, rendering
from bpo_intake.service.ocr import Tesseract
from bpo_intake.settings import Settings

from .conftest import worker_free
from .documents import open_job, upload
from .invoices import invoice_pdf, invoices, scanned
from .tesseracts import WrappedTesseract, held_tesseract, wrapped_tesseract

settings, db = worker_free("pages-to-read")


def _engine(settings: Settings) -> Tesseract:
    return Tesseract(settings.ocr_languages, settings.ocr_timeout_s)


async def _scans_to_read(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, *seeds: int
) -> list[tuple[UUID, str]]:
    """Scanned invoices' documents, one a seed, uploaded in that order and drawn, their pages
    left to read alone (the pages of other tests read first): each document and its invoice's
    number."""
    store = documents.document_store(settings)
    while await extraction.read_pending(db, store, _engine(settings)) == extraction.OCR_BATCH:
        pass
    client_id, job = await open_job(api, tokens)
    uploaded = []
    for seed in seeds:
        invoice = invoices(1, seed=seed)[0]
        scan = scanned(invoice_pdf("Brandt", invoice))
        response = await upload(
            api, tokens, client_id, job["id"], scan, filename=f"scan-{seed}.png"
        )
        assert response.status_code == 201, response.text
        uploaded.append((UUID(response.json()["id"]), invoice.number))
    reader = documents.document_decoder(settings)
    # Documents of other tests whose bytes are in other stores are passed over once found
    # missing (`awaited`), as the renderer's loop does: else each pass looked at them again.
    awaited: dict[UUID, datetime] = {}
    while await rendering.render_pending(db, store, reader, awaited) == rendering.RENDER_BATCH:
        pass
    return uploaded


async def _called(wrapper: WrappedTesseract, times: int) -> None:
    """Until the wrapper of Tesseract has been called `times` times."""

    async def called() -> bool:
        return wrapper.called() == times

    await eventually(called, what=f"Tesseract called {times} times")


async def _page(db: SessionFactory, document_id: UUID) -> DocumentPage:
    async with db() as session:
        query = select(DocumentPage).where(DocumentPage.document_id == document_id)
        (page,) = await session.scalars(query)
    return page


async def test_a_reader_on_a_pool_of_one_connection_stores_the_words_it_reads(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings
) -> None:
    ((document_id, number),) = await _scans_to_read(api, tokens, db, settings, 71)
    # BPO_INTAKE_DATABASE_POOL_SIZE at its least, 1: no connection besides it for bursts.
    one = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        alone = create_session_factory(one, source="intake")
        store = documents.document_store(settings)
        read = extraction.read_pending(alone, store, _engine(settings))
        assert await asyncio.wait_for(read, timeout=20) == 1
    finally:
        await one.dispose()
    page = await _page(db, document_id)
    assert page.read_at is not None
    assert number in [word["text"] for word in page.words or []]


async def test_a_page_read_by_another_reader_after_this_one_listed_it_is_not_read_again(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ((document_id, number),) = await _scans_to_read(api, tokens, db, settings, 72)
    listed, go = asyncio.Event(), asyncio.Event()
    unread_pages = extraction_repository.unread_pages

    async def listed_then_held(
        session: AsyncSession, limit: int
    ) -> list[tuple[DocumentPage, Document]]:
        """The first reader's list, kept until the test lets it claim; others' as ever."""
        found = await unread_pages(session, limit)
        if not listed.is_set():
            listed.set()
            await go.wait()
        return found

    monkeypatch.setattr(extraction_repository, "unread_pages", listed_then_held)
    read_late: list[int] = []

    class Noted(Tesseract):
        """Tesseract, each image it is given noted."""

        async def read(self, image: bytes) -> list[Word]:
            read_late.append(len(image))
            return await super().read(image)

    late = Noted(settings.ocr_languages, settings.ocr_timeout_s)
    store = documents.document_store(settings)
    reader = asyncio.create_task(extraction.read_pending(db, store, late))
    try:
        await asyncio.wait_for(listed.wait(), timeout=10)
        # Another reader reads the page and stores its words, its claim gone with its batch.
        assert await extraction.read_pending(db, store, _engine(settings)) == 1
    finally:
        go.set()
    assert await asyncio.wait_for(reader, timeout=20) == 0
    assert read_late == [], "Tesseract not run again on a page read"
    page = await _page(db, document_id)
    assert number in [word["text"] for word in page.words or []]


async def test_a_last_failed_read_takes_its_document_before_its_page_as_an_erasure_does(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    ((document_id, _),) = await _scans_to_read(api, tokens, db, settings, 73)
    async with db() as session, session.begin():
        spent = update(DocumentPage).where(DocumentPage.document_id == document_id)
        await session.execute(spent.values(read_attempts=extraction.READ_ATTEMPTS - 1))
    go = tmp_path / "go"
    # Killed (as for memory) on the page once the test lets it go; a blank page it reads.
    wrapper = wrapped_tesseract(
        tmp_path,
        "if len(image) > 10_000:",
        f"    while not pathlib.Path({str(go)!r}).exists():",
        "        time.sleep(0.05)",
        "    os.kill(os.getpid(), 9)",
    )
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s, str(wrapper.executable))
    store = documents.document_store(settings)
    reader = asyncio.create_task(extraction.read_pending(db, store, engine))
    try:
        await _called(wrapper, 1)
        async with db() as erasing, erasing.begin():
            # As an erasure does: the document's row first, then its pages'.
            (locked,) = await erasure_repository.documents_for_update(erasing, [document_id])
            go.touch()
            await someone_waits_for_a_lock(erasing)  # the reader, its last read failed
            # It waits for the document holding no page of it (holding the page, it deadlocked
            # with the erasure, which PostgreSQL ended with an error).
            pages = select(DocumentPage).where(DocumentPage.document_id == document_id)
            await erasing.execute(pages.with_for_update(nowait=True))
            await documents.delete_documents(erasing, [locked], utcnow(), [])
    finally:
        go.touch()
        read = await asyncio.wait_for(reader, timeout=20)
    assert read == 0, "nothing stored for a page of an erased document"
    page = await _page(db, document_id)
    assert (page.read_at, page.text, page.words) == (None, None, None)


async def test_a_read_outlasting_the_servers_idle_transaction_timeout_is_counted_and_kept(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    (slow, slow_number), (other, other_number) = await _scans_to_read(
        api, tokens, db, settings, 74, 75
    )
    # The first page takes Tesseract 3 s; the server ends a transaction idle for 1 s.
    wrapper = wrapped_tesseract(tmp_path, "if calls == 0:", "    time.sleep(3)")
    engine = Tesseract(settings.ocr_languages, settings.ocr_timeout_s, str(wrapper.executable))
    address, arguments = engine_url(settings.database_url.get_secret_value())
    idle = {"idle_in_transaction_session_timeout": "1s"}
    strict = create_async_engine(
        address, pool_size=1, connect_args={**arguments, "server_settings": idle}
    )
    try:
        sessions = create_session_factory(strict, source="intake")
        async with sessions() as session:
            shown = await session.execute(text("SHOW idle_in_transaction_session_timeout"))
            assert shown.scalar_one() == "1s"
        store = documents.document_store(settings)
        read = await asyncio.wait_for(extraction.read_pending(sessions, store, engine), 60)
    finally:
        await strict.dispose()
    # Its read counted before it started, no transaction left open meanwhile: both are read.
    assert read == 2
    first, second = await _page(db, slow), await _page(db, other)
    assert first.read_attempts == 1
    assert slow_number in [word["text"] for word in first.words or []]
    assert other_number in [word["text"] for word in second.words or []]


async def _claim_run_out(db: SessionFactory, document_id: UUID) -> None:
    """The claim of the document's page run out, as it does CLAIM_RUNS timeouts after it."""
    async with db() as session, session.begin():
        page = update(DocumentPage).where(DocumentPage.document_id == document_id)
        await session.execute(page.values(read_claimed_until=func.now()))


async def test_a_page_whose_reads_never_end_is_passed_over_then_taken_as_wordless(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (stuck, _), (other, number) = await _scans_to_read(api, tokens, db, settings, 76, 77)
    # Tesseract never ends until the test lets it go.
    wrapper, held, go = held_tesseract(tmp_path, settings)
    store = documents.document_store(settings)
    release_page = extraction_repository.release_page
    killed = asyncio.Event()

    async def unless_killed(*args: Any, **kwargs: Any) -> None:
        """Nothing once the reader stands killed: no code of its process runs any more."""
        if not killed.is_set():
            await release_page(*args, **kwargs)

    monkeypatch.setattr(extraction_repository, "release_page", unless_killed)
    try:
        for attempt in range(1, extraction.READ_ATTEMPTS + 1):
            # The reader's process is killed while Tesseract reads the page.
            reader = asyncio.create_task(extraction.read_pending(db, store, held))
            await _called(wrapper, attempt)
            killed.set()
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
            killed.clear()
            assert (await _page(db, stuck)).read_attempts == attempt, "counted as it started"
            if attempt == 1:
                # The next pass reads the other page, the stuck one held meanwhile.
                assert await extraction.read_pending(db, store, _engine(settings)) == 1
                assert number in [word["text"] for word in (await _page(db, other)).words or []]
            await _claim_run_out(db, stuck)
        # Its last allowed read never ended either: taken as having no words, not read again.
        assert await asyncio.wait_for(extraction.read_pending(db, store, held), 20) == 1
        assert wrapper.called() == extraction.READ_ATTEMPTS
    finally:
        go.touch()
    page = await _page(db, stuck)
    assert page.read_at is not None
    assert (page.text, page.words) == (None, None)


async def test_a_reader_stopped_mid_read_gives_its_page_back_uncounted(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    ((document_id, number),) = await _scans_to_read(api, tokens, db, settings, 78)
    wrapper, held, go = held_tesseract(tmp_path, settings)
    store = documents.document_store(settings)
    try:
        # A graceful stop (a rolling deploy's) cancels the reader while Tesseract reads.
        reader = asyncio.create_task(extraction.read_pending(db, store, held))
        await _called(wrapper, 1)
        assert (await _page(db, document_id)).read_attempts == 1, "counted as it started"
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader
        assert reader.cancelled(), "the stop goes on"
    finally:
        go.touch()
    page = await _page(db, document_id)
    assert (page.read_attempts, page.read_claimed_until) == (0, None), "given back"
    # Read by the next pass at once, not held for CLAIM_RUNS timeouts.
    assert await extraction.read_pending(db, store, _engine(settings)) == 1
    page = await _page(db, document_id)
    assert (page.read_attempts, number in [word["text"] for word in page.words or []]) == (1, True)


async def test_a_read_whose_words_cannot_be_stored_gives_its_page_back_uncounted(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    ((document_id, number),) = await _scans_to_read(api, tokens, db, settings, 79)
    wrapper, held, go = held_tesseract(tmp_path, settings)
    store = documents.document_store(settings)
    reader = asyncio.create_task(extraction.read_pending(db, store, held))
    try:
        await _called(wrapper, 1)
        async with db() as erasing, erasing.begin():
            await erasure_repository.documents_for_update(erasing, [document_id])
            go.touch()
            await someone_waits_for_a_lock(erasing)  # the reader, to store the words it read
            # Its connection lost as it stores them (a failover, say).
            ended = text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            assert (await erasing.execute(ended)).scalar_one() == 1
    finally:
        go.touch()
        read = await asyncio.wait_for(reader, timeout=20)
    assert read == 0
    page = await _page(db, document_id)
    assert (page.read_attempts, page.read_claimed_until, page.read_at) == (0, None, None)
    assert await extraction.read_pending(db, store, _engine(settings)) == 1
    page = await _page(db, document_id)
    assert (page.read_attempts, number in [word["text"] for word in page.words or []]) == (1, True)


async def test_a_page_a_reader_of_the_release_before_holds_is_passed_over(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings
) -> None:
    ((document_id, number),) = await _scans_to_read(api, tokens, db, settings, 80)
    store = documents.document_store(settings)
    async with db() as older, older.begin():
        # As a reader of the release before intake_0036 holds the page it reads.
        assert await try_advisory_lock(older, f"ocr:{document_id}:1")
        assert await extraction.read_pending(db, store, _engine(settings)) == 0
        page = await _page(db, document_id)
        assert (page.read_attempts, page.read_claimed_until, page.read_at) == (0, None, None)
    assert await extraction.read_pending(db, store, _engine(settings)) == 1
    assert number in [word["text"] for word in (await _page(db, document_id)).words or []]
