"""The page renderer: a worker draws the pages of each uploaded document to web images, keeps a
PDF's text layer and words, and marks the document rendered, its pages shown from then on.

A renderer claims the document it draws in the document's row, its attempt counted, in a
short transaction of its own; it reads the bytes, draws the pages and puts their images in
the store with no transaction open and no row held, and stores the words and marks the
document rendered in another short transaction, only if the document is still there and
still its own. (One transaction held the document locked for the whole drawing, a minute and
more for a long scan: a server's idle_in_transaction_session_timeout ended it every time, the
document came first again at every pass, and no document after it was rendered; an erasure of
its job waited for the drawing, the job locked meanwhile.)
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from obstore.store import ObjectStore

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.errors import NotFound
from bpo_common.notifications import notify
from bpo_intake.domain import documents as domain
from bpo_intake.domain.documents import Refused
from bpo_intake.models import Document
from bpo_intake.repository import documents as repository
from bpo_intake.repository import extraction as extraction_repository
from bpo_intake.repository import objects
from bpo_intake.service.decoding import Decoder
from bpo_intake.service.documents import StoredBytes, sweep
from bpo_intake.service.extraction import GIVE_BACK_S

log = structlog.get_logger(__name__)
# Documents a renderer draws before it looks for other work (each committed on its own).
RENDER_BATCH = 10
# A document whose bytes the store does not have is left for a later pass while this young (a
# store may show a write late; another process's store may not be this one's).
BYTES_AWAITED = timedelta(minutes=10)
# How many renders of a document are started, each counted before it starts, before it is
# rendered without images: renders that never ended (the renderer's process killed).
RENDER_ATTEMPTS = 3
# A renderer holds the document it claims for RENDER_CLAIM_S, renewed every RENDER_RENEW_S
# while it reads, draws and puts the images, however many pages the document has: a renderer
# killed mid-render (its worker lost) holds its document that long at most, and a worker busy
# with other work for a while keeps its claim.
RENDER_CLAIM_S = 120.0
RENDER_RENEW_S = 20.0


@dataclass
class _Claim:
    """The document a renderer holds, and when its claim runs out (which names it)."""

    document_id: UUID
    until: datetime


async def render_pending(
    sessions: SessionFactory, store: ObjectStore, reader: Decoder, awaited: dict[UUID, datetime]
) -> int:
    """Render the pages of up to RENDER_BATCH documents, but those whose bytes are `awaited`
    (by when they were first found missing: passed over meanwhile, not to hold up the
    others), and those another renderer holds; returns how many it looked at. Each document
    is claimed, drawn and stored on its own: its pages are shown as soon as it is drawn."""
    now = utcnow()
    for document_id, since in list(awaited.items()):
        if since < now - BYTES_AWAITED:
            del awaited[document_id]
    looked = 0
    while looked < RENDER_BATCH:
        async with sessions() as session, session.begin():
            document = await repository.unrendered(session, awaited)
            if document is None:
                break
            attempt, until = await repository.claim_render(session, document.id, RENDER_CLAIM_S)
        claim = _Claim(document.id, until)
        await _render_claimed(sessions, store, reader, document, attempt, claim, awaited)
        looked += 1
    return looked


async def _render_claimed(
    sessions: SessionFactory,
    store: ObjectStore,
    reader: Decoder,
    document: Document,
    attempt: int,
    claim: _Claim,
    awaited: dict[UUID, datetime],
) -> None:
    """Draw the document this renderer claimed, its claim renewed meanwhile, store its images
    and a PDF's words, and mark it rendered, unless it was deleted meanwhile or another
    renderer holds it now: then nothing is stored, and the images put are swept unless a live
    document has them. A store, a decoder or a database that fails, or the worker stopping,
    gives the document back, its attempt uncounted; only a worker killed outright leaves it
    held, until its claim runs out."""
    try:
        async with _renewed(sessions, claim):
            rendered = await _drawn(store, reader, document, attempt)
            for page in rendered:
                path = objects.page_image(document.client_id, document.sha256, page.number)
                await objects.put(store, path, page.image)
        async with sessions() as session, session.begin():
            stored = await repository.finish_render(session, document.id, claim.until, utcnow())
            # A page whose text layer holds its words is read; any other waits for OCR,
            # without words until then.
            for page in rendered if stored else []:
                if page.read:
                    words = [word.as_json() for word in page.words or []]
                    await extraction_repository.set_page_words(
                        session, document.id, page.number, page.text, words, utcnow()
                    )
            if stored:
                await notify(session, domain.WORK_CHANNEL)  # pages to read, items to extract
    except _BytesAwaited:
        awaited.setdefault(document.id, utcnow())
        await _give_back(sessions, claim)
        return
    except (Exception, asyncio.CancelledError):
        await _give_back(sessions, claim)
        raise
    if not stored:
        # An erasure's sweep may have run before these images were put.
        await sweep(
            sessions, store, [StoredBytes(document.client_id, document.sha256, document.pages)]
        )


@asynccontextmanager
async def _renewed(sessions: SessionFactory, claim: _Claim) -> AsyncIterator[None]:
    """The claim renewed every RENDER_RENEW_S while the block runs. A renewal that fails is
    tried again at the next; one that finds the claim gone (run out and taken by another)
    stops, and the render then stores nothing. A renewal under way when the block ends is
    waited for, not cut short, so that the claim the render finishes under is the one
    committed."""
    ended = asyncio.Event()

    async def renew() -> None:
        while not ended.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), RENDER_RENEW_S)
                return
            try:
                async with sessions() as session, session.begin():
                    until = await repository.renew_render(
                        session, claim.document_id, claim.until, RENDER_CLAIM_S
                    )
            except Exception:
                log.exception("render_claim_not_renewed", document_id=str(claim.document_id))
                continue
            if until is None:
                log.warning("render_claim_lost", document_id=str(claim.document_id))
                return
            claim.until = until

    renewal = asyncio.create_task(renew())
    try:
        yield
    finally:
        ended.set()
        await asyncio.shield(renewal)


class _BytesAwaited(Exception):
    """The document's bytes are not in the store yet: it is rendered on a later pass."""


async def _drawn(
    store: ObjectStore, reader: Decoder, document: Document, attempt: int
) -> list[domain.RenderedPage]:
    """The document's pages drawn at its `attempt`-th render. None are for one that can never
    be rendered (its bytes gone, BYTES_AWAITED after its upload, or bytes PDFium or Pillow
    cannot draw after all, or not within the decoder's limits, or whose RENDER_ATTEMPTS
    renders never ended), which is marked rendered all the same, its pages answering 404, so
    that it does not stop the others. _BytesAwaited for bytes that may be there later; any
    other error is the store's or the decoder's."""
    if attempt > RENDER_ATTEMPTS:
        log.error("document_not_rendered", document_id=str(document.id), renders=attempt - 1)
        return []
    try:
        content = await objects.read(store, objects.original(document.client_id, document.sha256))
    except NotFound:
        if document.created_at > utcnow() - BYTES_AWAITED:
            log.warning("document_bytes_not_found_yet", document_id=str(document.id))
            raise _BytesAwaited from None
        log.error("document_bytes_missing", document_id=str(document.id))
        return []
    try:
        return await reader.render(domain.MediaType(document.media_type), content, document.pages)
    except Refused:
        log.exception("document_not_rendered", document_id=str(document.id))
        return []


async def _give_back(sessions: SessionFactory, claim: _Claim) -> None:
    """Release the claim and its attempt, within GIVE_BACK_S, shielded from the cancelling of
    a stopping worker (which the service waits 10 s for): a give-back that fails or runs out of
    time leaves the claim to run out on its own, the attempt counted."""

    async def release() -> None:
        async with sessions() as session, session.begin():
            await repository.release_render(
                session, claim.document_id, claim.until, given_back=True
            )

    try:
        await asyncio.shield(asyncio.wait_for(release(), GIVE_BACK_S))
    except Exception:
        log.exception("document_not_given_back", document_id=str(claim.document_id))
