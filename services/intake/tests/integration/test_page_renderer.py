"""The page renderer run by the test in an app without workers (so that none runs beside it): a
document is claimed in a short transaction, its attempt counted, and drawn with no transaction
open and no row held, its claim renewed meanwhile (no other pass takes it, however long the
drawing): a server that ends idle transactions stops nothing, and an erasure of
its job waits for no drawing, nothing of the erased document kept once it ends (images a
renderer killed meanwhile put are swept once its claim runs out). A renderer stopped mid-render
gives its document back uncounted; a document whose renders never end (the renderer killed
mid-render) is passed over for others, then left without page images."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory, create_session_factory, engine_url
from bpo_common.errors import NotFound
from bpo_devtools.testing import Tokens, eventually, someone_waits_for_a_lock
from bpo_intake.domain.documents import MediaType, RenderedPage
from bpo_intake.models import Document, DocumentPage
from bpo_intake.repository import documents as documents_repository
from bpo_intake.repository import objects
from bpo_intake.service import documents, rendering
from bpo_intake.settings import Settings

from .conftest import worker_free
from .documents import invoice_pdf, open_job, upload

Render = Callable[[MediaType, bytes, int], Awaitable[list[RenderedPage]]]


settings, db = worker_free("pages-to-render")


# Documents of other tests whose bytes are in other stores, passed over once found missing, as
# the renderer's loop does: else each pass looked at them again.
AWAITED: dict[UUID, datetime] = {}


async def _render_all(sessions: SessionFactory, settings: Settings) -> None:
    """What the renderer's loop does, until no document is left to render."""
    store, reader = documents.document_store(settings), documents.document_decoder(settings)
    while (
        await rendering.render_pending(sessions, store, reader, AWAITED) == rendering.RENDER_BATCH
    ):
        pass


async def _invoices_to_render(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, settings: Settings, *numbers: str
) -> tuple[UUID, str, list[UUID]]:
    """A new job's invoices, one a number, left to render alone (other tests' drawn first):
    the client, the job and the documents, in that order."""
    await _render_all(db, settings)
    client_id, job = await open_job(api, tokens)
    made = []
    for number in numbers:
        pdf = invoice_pdf(number)
        uploaded = await upload(api, tokens, client_id, job["id"], pdf, filename=f"{number}.pdf")
        assert uploaded.status_code == 201, uploaded.text
        made.append(UUID(uploaded.json()["id"]))
    return client_id, job["id"], made


@dataclass
class Held:
    """A drawing held until the test lets it `go`; `drawing` is set once one has started."""

    drawing: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    def render(self, render: Render) -> Render:
        async def held(kind: MediaType, content: bytes, pages: int) -> list[RenderedPage]:
            self.drawing.set()
            await self.go.wait()
            return await render(kind, content, pages)

        return held

    async def started(self) -> None:
        await asyncio.wait_for(self.drawing.wait(), 30)
        self.drawing.clear()


async def _document(db: SessionFactory, document_id: UUID) -> Document:
    async with db() as session:
        found = await session.get(Document, document_id)
    assert found is not None
    return found


async def _first_page(db: SessionFactory, document_id: UUID) -> DocumentPage:
    async with db() as session:
        query = select(DocumentPage).where(
            DocumentPage.document_id == document_id, DocumentPage.number == 1
        )
        return (await session.scalars(query)).one()


async def _image(settings: Settings, document: Document) -> bytes:
    """The document's first page's image in the store."""
    store = documents.document_store(settings)
    return await objects.read(store, objects.page_image(document.client_id, document.sha256, 1))


async def _swept(settings: Settings, document: Document) -> None:
    """Until the document's bytes are gone from the store (an erasure's sweep follows its
    answer)."""
    store = documents.document_store(settings)

    async def gone() -> bool:
        try:
            await objects.read(store, objects.original(document.client_id, document.sha256))
        except NotFound:
            return True
        return False

    await eventually(gone, what="the erased document's bytes swept")


async def _killed(*args: Any, **kwargs: Any) -> None:
    """Nothing: the renderer stands killed, no code of its process runs any more."""


async def test_a_render_outlasting_the_servers_idle_transaction_timeout_stores_its_pages(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, made = await _invoices_to_render(api, tokens, db, settings, "SLOW-1", "NEXT-1")
    # Each drawing takes 3 s longer; the server ends a transaction idle for 1 s.
    reader = documents.document_decoder(settings)
    render = reader.render

    async def slow(kind: MediaType, content: bytes, pages: int) -> list[RenderedPage]:
        await asyncio.sleep(3)
        return await render(kind, content, pages)

    monkeypatch.setattr(reader, "render", slow)
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
        await asyncio.wait_for(_render_all(sessions, settings), 60)
    finally:
        await strict.dispose()
    # Drawn with no transaction open: both are rendered, their pages' images and words kept.
    for document_id, number in zip(made, ("SLOW-1", "NEXT-1"), strict=True):
        document = await _document(db, document_id)
        assert document.rendered_at is not None
        assert (await _image(settings, document))[8:12] == b"WEBP"
        assert number in [word["text"] for word in (await _first_page(db, document_id)).words or []]


async def test_a_render_longer_than_its_claim_keeps_it_renewed_and_no_other_pass_takes_it(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, (document_id,) = await _invoices_to_render(api, tokens, db, settings, "LONG-1")
    # A claim of 2 s renewed every 0.5 s; the drawing takes until the test lets it go.
    monkeypatch.setattr(rendering, "RENDER_CLAIM_S", 2.0)
    monkeypatch.setattr(rendering, "RENDER_RENEW_S", 0.5)
    reader, held = documents.document_decoder(settings), Held()
    render = reader.render
    monkeypatch.setattr(reader, "render", held.render(render))
    renderer = asyncio.create_task(_render_all(db, settings))
    try:
        await held.started()
        claimed = await _document(db, document_id)
        assert claimed.render_claimed_until is not None
        assert claimed.render_claimed_until <= utcnow() + timedelta(seconds=2), "whatever pages"
        await asyncio.sleep(3.5)  # past its first claim's end
        drawing = await _document(db, document_id)
        assert drawing.render_claimed_until is not None
        assert drawing.render_claimed_until > utcnow(), "renewed while it draws"
        # Another renderer's pass finds it held: it is drawn once.
        monkeypatch.setattr(reader, "render", render)
        store = documents.document_store(settings)
        assert await rendering.render_pending(db, store, reader, AWAITED) == 0
        assert (await _document(db, document_id)).render_attempts == 1
    finally:
        held.go.set()
        await asyncio.wait_for(renderer, 30)
    document = await _document(db, document_id)
    assert (document.rendered_at is not None, document.render_claimed_until) == (True, None)
    assert (await _image(settings, document))[8:12] == b"WEBP"


async def test_an_erasure_waits_for_no_render_and_the_render_keeps_nothing_of_what_it_erased(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_id, job_id, (document_id,) = await _invoices_to_render(
        api, tokens, db, settings, "ERASED-1"
    )
    reader, held = documents.document_decoder(settings), Held()
    monkeypatch.setattr(reader, "render", held.render(reader.render))
    renderer = asyncio.create_task(_render_all(db, settings))
    erasing: asyncio.Task[httpx.Response] | None = None
    try:
        await held.started()
        # The job is erased while its document is drawn: no transaction waits for the drawing.
        headers = tokens.client(client_id)
        erasing = asyncio.create_task(api.delete(f"/v1/jobs/{job_id}/data", headers=headers))
        async with db() as watching:
            waiting = asyncio.create_task(someone_waits_for_a_lock(watching))
            done, _ = await asyncio.wait({erasing, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            # Its query ended before its session closes (closed mid-query, SQLAlchemy refuses).
            with suppress(asyncio.CancelledError):
                await waiting
        assert erasing in done, "the erasure waited for a lock the renderer holds"
        assert erasing.result().status_code == 202, erasing.result().text
        await _swept(settings, await _document(db, document_id))  # before the images are put
    finally:
        held.go.set()
        await asyncio.wait_for(renderer, 30)
        if erasing is not None:
            await erasing
    # Nothing of it stored; the images it put once the erasure had swept its bytes swept too.
    document = await _document(db, document_id)
    assert (document.deleted_at is not None, document.rendered_at) == (True, None)
    page = await _first_page(db, document_id)
    assert (page.text, page.words, page.read_at) == (None, None, None)
    with pytest.raises(NotFound):
        await _image(settings, document)
    assert document.swept_at is not None


async def test_a_renderer_stopped_mid_render_gives_its_document_back_uncounted(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, (document_id,) = await _invoices_to_render(api, tokens, db, settings, "STOPPED-1")
    reader, held = documents.document_decoder(settings), Held()
    render = reader.render
    monkeypatch.setattr(reader, "render", held.render(render))
    try:
        # A graceful stop (a rolling deploy's) cancels the renderer while it draws.
        renderer = asyncio.create_task(_render_all(db, settings))
        await held.started()
        assert (await _document(db, document_id)).render_attempts == 1, "counted as it started"
        renderer.cancel()
        with suppress(asyncio.CancelledError):
            await renderer
        assert renderer.cancelled(), "the stop goes on"
    finally:
        held.go.set()
    document = await _document(db, document_id)
    assert (document.render_attempts, document.render_claimed_until) == (0, None), "given back"
    # Rendered by the next pass at once, not held until its claim runs out.
    monkeypatch.setattr(reader, "render", render)
    await _render_all(db, settings)
    document = await _document(db, document_id)
    assert (document.rendered_at is not None, document.render_attempts) == (True, 1)
    assert (await _image(settings, document))[8:12] == b"WEBP"


async def test_a_document_whose_renders_never_end_is_passed_over_then_left_without_images(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, (stuck, other) = await _invoices_to_render(api, tokens, db, settings, "STUCK-1", "NEXT-2")
    reader, held = documents.document_decoder(settings), Held()
    render = reader.render
    release_render = documents_repository.release_render
    try:
        for attempt in range(1, rendering.RENDER_ATTEMPTS + 1):
            # The renderer's process is killed while it draws the first document.
            monkeypatch.setattr(reader, "render", held.render(render))
            monkeypatch.setattr(documents_repository, "release_render", _killed)
            renderer = asyncio.create_task(_render_all(db, settings))
            await held.started()
            renderer.cancel()
            with suppress(asyncio.CancelledError):
                await renderer
            monkeypatch.setattr(reader, "render", render)
            monkeypatch.setattr(documents_repository, "release_render", release_render)
            assert (await _document(db, stuck)).render_attempts == attempt, "counted as it started"
            if attempt == 1:
                # The next pass renders the other, the stuck one held meanwhile.
                await _render_all(db, settings)
                assert (await _document(db, other)).rendered_at is not None
                assert (await _document(db, stuck)).rendered_at is None
            # Its claim run out, as it does RENDER_CLAIM_S after its last renewal.
            async with db() as session, session.begin():
                claim = update(Document).where(Document.id == stuck)
                await session.execute(claim.values(render_claimed_until=func.now()))
        # Its last allowed render never ended either: rendered without images, not drawn again.
        monkeypatch.setattr(reader, "render", held.render(render))
        await asyncio.wait_for(_render_all(db, settings), 20)
        assert not held.drawing.is_set()
    finally:
        held.go.set()
    document = await _document(db, stuck)
    assert document.rendered_at is not None
    assert document.render_attempts == rendering.RENDER_ATTEMPTS + 1
    with pytest.raises(NotFound):
        await _image(settings, document)


async def test_images_a_killed_renderer_put_after_an_erasure_are_swept_once_its_claim_runs_out(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_id, job_id, (document_id,) = await _invoices_to_render(
        api, tokens, db, settings, "KILLED-1"
    )
    reader, held, put = documents.document_decoder(settings), Held(), asyncio.Event()
    monkeypatch.setattr(reader, "render", held.render(reader.render))

    async def put_then_killed(*args: Any, **kwargs: Any) -> bool:
        """The renderer's process killed once its images are put, before it stores them."""
        put.set()
        await asyncio.Event().wait()
        return False

    monkeypatch.setattr(documents_repository, "finish_render", put_then_killed)
    monkeypatch.setattr(documents_repository, "release_render", _killed)
    renderer = asyncio.create_task(_render_all(db, settings))
    try:
        await held.started()
        erased = await api.delete(f"/v1/jobs/{job_id}/data", headers=tokens.client(client_id))
        assert erased.status_code == 202, erased.text
        await _swept(settings, await _document(db, document_id))
        assert (await _document(db, document_id)).swept_at is None, "swept again later"
    finally:
        held.go.set()
    await asyncio.wait_for(put.wait(), 30)
    renderer.cancel()
    with suppress(asyncio.CancelledError):
        await renderer
    document = await _document(db, document_id)
    assert (await _image(settings, document))[8:12] == b"WEBP", "put after the erasure's sweep"
    # Its claim run out; then the hourly pass sweeps the bytes of deleted documents again.
    async with db() as session, session.begin():
        claim = update(Document).where(Document.id == document_id)
        await session.execute(claim.values(render_claimed_until=func.now()))
    later = utcnow() + documents.SWEEP_AFTER + timedelta(minutes=1)
    await documents.sweep_left(db, documents.document_store(settings), later)
    with pytest.raises(NotFound):
        await _image(settings, document)
    assert (await _document(db, document_id)).swept_at is not None
