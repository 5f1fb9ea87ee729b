"""Machine pre-fill in the background: OCR reads the pages without a text layer, extraction
suggests each field of an item once its pages are read, and learns from accepted items.

A page OCR cannot read is marked read without words: its item is extracted from what could
be read (or suggests nothing) and is keyed by hand as ever. Suggestions never hold up work:
a task claimed before its item was extracted shows none.

Suggestions of personal (`pii`) fields are stored sealed with the job's data key, like every
personal value; a layout, which is the client's across jobs, never learns personal values.
"""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from obstore.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import QcPolicy
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.errors import Conflict, NotFound
from bpo_common.ids import new_id, new_sample_key, sampled
from bpo_common.notifications import notify
from bpo_common.rules import FieldSpec, JobSpec, spec_for
from bpo_intake.domain import extraction as domain
from bpo_intake.domain import layouts, suggestions
from bpo_intake.domain.documents import WORK_CHANNEL
from bpo_intake.domain.links import PageLinks, SignedPage
from bpo_intake.domain.words import Word
from bpo_intake.models import Document, Item, Job, Layout
from bpo_intake.repository import extraction as repository
from bpo_intake.repository import objects
from bpo_intake.schemas import PageWords, WordOut
from bpo_intake.service import pages
from bpo_intake.service.keys import keys_of_jobs
from bpo_intake.service.ocr import OcrFailed, OcrNotNow, Tesseract

log = structlog.get_logger()

OCR_BATCH = 4
# Unread pages a reader looks at for its batch: those other readers hold are passed over.
OCR_CANDIDATES = 8 * OCR_BATCH
# How many reads of a page are started, each counted before it starts, before the page is
# taken as having no words: reads that ran out of time, had Tesseract killed, or never ended
# (the reader's process killed).
READ_ATTEMPTS = 3
# A reader holds the page it claims for this many times the engine's timeout: a read runs
# Tesseract three times at most (on the page, again with a local threshold, and on a blank
# page once it was killed), and one more is left for fetching the image. Past it, a page whose
# reader was killed mid-read may be taken by another.
CLAIM_RUNS = 4
# Seconds a reader that stops or fails has to give its page back, well within the 10 s a
# stopping service waits for its workers.
GIVE_BACK_S = 3.0
EXTRACT_BATCH = 20
LEARN_BATCH = 50


async def read_pending(sessions: SessionFactory, store: ObjectStore, engine: Tesseract) -> int:
    """OCR up to OCR_BATCH pages that have no words yet; returns how many were read. A page
    whose image is missing or cannot be read is read as having none, as is one whose
    READ_ATTEMPTS reads ran out of time, had Tesseract killed on it or never ended; one read
    fewer times is read again on a later pass, after the pages tried fewer times. A store or
    an engine that fails otherwise, or the database storing the words, ends the batch there:
    what it read and counted before is kept, the failed page's attempt given back, and its
    other pages are read again on a later pass."""
    async with sessions() as session:
        candidates = await repository.unread_pages(session, OCR_CANDIDATES)
    read = claimed = 0
    for page, document in candidates:
        if claimed == OCR_BATCH:
            break
        try:
            stored = await _read_claimed(sessions, store, engine, document, page.number)
        except Exception:
            # The engine's, the store's or the database's: no page is read until they are back.
            log.exception("pages_not_read_now", document_id=str(document.id), page=page.number)
            break
        claimed += stored is not None
        read += bool(stored)
    return read


async def _read_claimed(
    sessions: SessionFactory, store: ObjectStore, engine: Tesseract, document: Document, number: int
) -> bool | None:
    """Read the page if this reader claims it while it is still unread and its document
    there: whether its words were stored (None when it was not claimed).

    The claim counts the attempt and is committed before Tesseract starts, and no transaction
    is open while it reads: a read that ran out of time, or that its worker's process was
    killed in, has counted, and the next pass takes the pages tried fewer times first
    (a transaction held open for the read was ended by a server's
    idle_in_transaction_session_timeout, the attempt never counted, and the page came first
    again at every pass). Each transaction is short and one at a time: a pool of one
    connection serves the reader, and an erasure of the document hardly waits for it."""
    async with sessions() as session, session.begin():
        claim = await repository.claim_page(
            session, document.id, number, CLAIM_RUNS * engine.timeout_s
        )
    if claim is None:
        return None
    attempt, until = claim
    try:
        words = await _read(store, engine, document, number, attempt)
        text = " ".join(word.text for word in words) if words else None
        async with sessions() as session, session.begin():
            stored = await repository.set_words_read(
                session, document.id, number, text, _as_json(words), utcnow()
            )
            if stored:
                await notify(session, WORK_CHANNEL)  # items to extract
    except _NotNow:
        await _release(sessions, document, number, until, given_back=False)
        return False
    except (Exception, asyncio.CancelledError):
        # The store's, the engine's or the database's failure, or the worker stopping (a
        # graceful stop cancels it), not the page's: its attempt is given back (it was kept,
        # and a page whose third read was cut short so was later taken as having no words,
        # unread). Only a worker killed outright, which runs nothing more, leaves it counted.
        await _give_back(sessions, document, number, until)
        raise
    return stored


async def _release(
    sessions: SessionFactory, document: Document, number: int, until: datetime, *, given_back: bool
) -> None:
    async with sessions() as session, session.begin():
        await repository.release_page(session, document.id, number, until, given_back=given_back)


async def _give_back(
    sessions: SessionFactory, document: Document, number: int, until: datetime
) -> None:
    """Release the claim and its attempt, within GIVE_BACK_S, shielded from the cancelling of
    a stopping worker (which the service waits 10 s for): a give-back that fails or runs out of
    time leaves the claim to run out on its own, the attempt counted."""
    releasing = asyncio.wait_for(
        _release(sessions, document, number, until, given_back=True), GIVE_BACK_S
    )
    try:
        await asyncio.shield(releasing)
    except Exception:
        log.exception("page_not_given_back", document_id=str(document.id), page=number)


class _NotNow(Exception):
    """The page is to be read again on a later pass."""


async def _read(
    store: ObjectStore, engine: Tesseract, document: Document, number: int, attempt: int
) -> list[Word] | None:
    """The words OCR reads on the page at its `attempt`-th read, None for a page taken as
    having none; _NotNow for one to be read again later. Any other error is the store's or
    the engine's."""
    if attempt > READ_ATTEMPTS:
        # Its last allowed read never ended (its reader killed mid-read).
        log.error("page_not_read", document_id=str(document.id), page=number, reads=attempt - 1)
        return None
    try:
        image = await objects.read(
            store, objects.page_image(document.client_id, document.sha256, number)
        )
        return await engine.read(image)
    except NotFound:
        log.error("page_image_missing", document_id=str(document.id), page=number)
    except OcrNotNow as exc:
        if attempt < READ_ATTEMPTS:
            log.warning("page_not_read_now", document_id=str(document.id), page=number)
            raise _NotNow from exc
        log.exception("page_not_read", document_id=str(document.id), page=number)
    except OcrFailed:
        log.exception("page_not_read", document_id=str(document.id), page=number)
    return None


async def page_words(session: AsyncSession, links: PageLinks, link: SignedPage) -> PageWords:
    """A page's words, to whoever holds a valid link to it; 409 while they are being read."""
    await pages.followed(session, links, link)
    document_id, number = link.document_id, link.number
    found = await repository.page_of_live_document(session, document_id, number)
    if found is None:
        raise NotFound(f"no page {number} of document {document_id}")
    if found.read_at is None:
        raise Conflict(
            "the page is still being read; try again in a moment", headers={"Retry-After": "1"}
        )
    words = [WordOut.model_validate(word) for word in found.words or []]
    return PageWords(document_id=document_id, number=number, words=words)


async def extract_pending(session: AsyncSession, keys: DataKeys) -> int:
    """Learn from up to LEARN_BATCH accepted items, then suggest the fields of up to
    EXTRACT_BATCH items whose pages are read; returns how many items it handled."""
    to_learn = await repository.items_to_learn_from(session, LEARN_BATCH)
    ready = await repository.items_to_extract(session, EXTRACT_BATCH)
    # The layouts of every client concerned are held before any layout's row is locked
    # (learning locks the rows of the accepted items' layouts; matching updates the row of
    # the layout a document matches), all at once. Taken in any other order, a replica that
    # learns holds a layout's row and waits for its client's layouts, while another that holds
    # them and matches a document waits for that row, until PostgreSQL ends one of them.
    clients = [job.client_id for item, job in to_learn if item.layout_id is not None]
    await repository.lock_layouts(session, clients + [job.client_id for _, job in ready])
    learned = await _learn(session, to_learn)
    found_keys = await keys_of_jobs(session, keys, {job.id: job.data_key for _, job in ready})
    now = utcnow()
    for item, job in ready:
        pages = await _pages(session, item.documents)
        specs = _specs(job)
        layout = await _layout_of(session, job.client_id, pages, item.layout_id)
        learned_fields = layouts.Model.from_json(layout.model).fields if layout else {}
        try:
            # Tens of milliseconds of CPU an item: off the event loop the consumers share.
            found = await asyncio.to_thread(suggestions.suggest, specs, pages, learned_fields)
        except Exception:
            # A bug on one item's words must not stop the others: it is keyed by hand.
            log.exception("item_not_extracted", item_id=str(item.id))
            found = {}
        suggested = {name: suggestion.as_json() for name, suggestion in found.items()}
        policy = QcPolicy.model_validate(job.qc)
        key, personal = found_keys[job.id], _spec(job).personal
        # Drawn with a secret of the moment, not from the id the keyer sees (who could tell
        # which controls' pre-fill is wrong); the draw is kept as the suggestions' `planted`.
        draw = new_sample_key()
        if item.golden is not None and sampled(item.id, policy.wrong_suggestion_rate, draw):
            try:
                golden = personal.open(item.golden, key)
                # Off the loop too: failing a suggestion, it reads the pages' words.
                wrong = await asyncio.to_thread(suggestions.planted, specs, golden, found, pages)
                if wrong is not None:
                    name, suggestion = wrong
                    suggested[name] = suggestion.as_json() | {"planted": True}
            except Exception:
                # Nor on one control item's answer: it goes without a planted value.
                log.exception("wrong_value_not_planted", item_id=str(item.id))
        sealed = {
            name: {**shown, "value": key.seal(shown["value"])}
            if personal.covers(name) and shown.get("value") is not None
            else shown
            for name, shown in suggested.items()
        }
        item.layout_id = layout.id if layout else None
        item.suggestions, item.extracted_at = sealed, now
    return learned + len(ready)


async def _learn(session: AsyncSession, items: Sequence[tuple[Item, Job]]) -> int:
    layout_ids = sorted({item.layout_id for item, _ in items if item.layout_id is not None})
    locked = await repository.layouts_for_update(session, layout_ids)
    by_id = {layout.id: layout for layout in locked}
    before = {layout.id: layout.learned for layout in locked}
    for item, job in items:
        item.learn_pending = False
        layout = by_id.get(item.layout_id) if item.layout_id else None
        if layout is None or item.result is None or item.golden is not None:
            continue
        pages = await _pages(session, item.documents)
        model = layouts.Model.from_json(layout.model)
        # Personal values left out (as if not keyed): the layout never holds one.
        accepted = _spec(job).personal.map(item.result, _left_out)
        await asyncio.to_thread(layouts.learn, model, _specs(job), pages, accepted)
        layout.model, layout.learned = model.as_json(), layout.learned + 1
    # Items of a layout that nobody has started yet are read again with what it learned, each
    # time its count of learned documents passes a power of two (so a big batch is read again
    # a few times, not once per accepted item).
    grown = [
        layout.id
        for layout in locked
        if layout.learned.bit_length() > before[layout.id].bit_length()
    ]
    if grown:
        await repository.extract_again(session, grown)
    return len(items)


async def _layout_of(
    session: AsyncSession, client_id: UUID, pages: Sequence[domain.Page], known_id: UUID | None
) -> Layout | None:
    """The client's layout these pages are of, counting them in; a new one if none fits. An
    item read again keeps its layout (`known_id`), counted once. Pages without a word (blank,
    handwritten, unread) are of none: nothing would tell their layout from another."""
    known = await repository.layouts_of_client(session, client_id)
    again = next((layout for layout in known if layout.id == known_id), None)
    if again is not None:
        return again
    seen = layouts.tokens(pages)
    if not seen:
        return None
    key = layouts.match(
        seen, [(layout, layout.tokens, layout.places, layout.documents) for layout in known]
    )
    layout: Layout
    if isinstance(key, Layout):
        layout = key
        layout.tokens, layout.places = layouts.observe(layout.tokens, layout.places, seen)
        layout.documents += 1
        return layout
    counts, places = layouts.observe({}, {}, seen)
    layout = Layout(
        id=new_id(),
        client_id=client_id,
        tokens=counts,
        places=places,
        documents=1,
        learned=0,
        model={},
        created_at=utcnow(),
    )
    await repository.add_layout(session, layout)
    return layout


async def _pages(session: AsyncSession, document_ids: Sequence[UUID]) -> list[domain.Page]:
    rows = await repository.page_words(session, document_ids)
    return [
        domain.Page(
            str(document_id),
            number,
            [Word.from_json(word) for word in words],
        )
        for document_id, number, words in rows
    ]


def _spec(job: Job) -> JobSpec:
    return spec_for(job.id, job.fields, job.rules, job.match)


def _specs(job: Job) -> tuple[FieldSpec, ...]:
    return _spec(job).fields


def _left_out(value: Any) -> None:
    return None


def _as_json(words: list[Word] | None) -> list[dict[str, Any]] | None:
    return None if words is None else [word.as_json() for word in words]
