"""Queries of machine pre-fill: pages to read, items to extract and learn from, layouts."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock, try_advisory_lock
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Document, DocumentPage, Item, Job, Layout


async def unread_pages(session: AsyncSession, limit: int) -> list[tuple[DocumentPage, Document]]:
    """Pages of rendered documents whose words are still to be read and that no reader holds,
    those tried the fewest times first. Not locked: a reader claims the ones it reads
    (`claim_page`)."""
    query = (
        select(DocumentPage, Document)
        .join(Document, Document.id == DocumentPage.document_id)
        .where(
            DocumentPage.read_at.is_(None),
            _unclaimed(),
            Document.rendered_at.is_not(None),
            Document.deleted_at.is_(None),
        )
        .order_by(DocumentPage.read_attempts, DocumentPage.document_id, DocumentPage.number)
        .limit(limit)
    )
    return [(page, document) for page, document in (await session.execute(query)).all()]


def _unclaimed() -> ColumnElement[bool]:
    """No reader holds the page: none claimed it, or its claim ran out."""
    return or_(
        DocumentPage.read_claimed_until.is_(None), DocumentPage.read_claimed_until < func.now()
    )


async def claim_page(
    session: AsyncSession, document_id: UUID, number: int, held_s: float
) -> tuple[int, datetime] | None:
    """Hold the page for this reader for `held_s` seconds, one more attempt at reading it
    counted, unless another reader holds it, or it was read or its document deleted since the
    reader listed it (another reader's batch may have stored its words meanwhile: asked in a
    statement of its own, which sees what that batch committed): the number of this attempt
    and when the claim runs out, which names it (None when not claimed). The claim is in the
    page's row, committed with the count before the read starts: no transaction is open, and
    no row held, while Tesseract reads. The document's row is held first
    (`_hold_live_document`), then the page's, as an erasure takes them.

    For the release before intake_0036 only, whose readers run beside these during a rolling
    upgrade: they hold a page by the advisory lock `ocr:<document>:<page>` for the whole read
    and know nothing of the row's claim. A claim is not made while one of them holds it, and
    holds it itself while it is made, so that one trying it meanwhile passes the page over
    (without it, both releases ran Tesseract on one page at once). One trying it after the
    claim is committed still reads the page: its listing is blind to the claim."""
    if not await try_advisory_lock(session, f"ocr:{document_id}:{number}"):
        return None
    if not await _hold_live_document(session, document_id):
        return None
    claimed = await session.execute(
        update(DocumentPage)
        .where(
            DocumentPage.document_id == document_id,
            DocumentPage.number == number,
            DocumentPage.read_at.is_(None),
            _unclaimed(),
        )
        .values(
            read_attempts=DocumentPage.read_attempts + 1,
            read_claimed_until=func.now() + timedelta(seconds=held_s),
        )
        .returning(DocumentPage.read_attempts, DocumentPage.read_claimed_until)
    )
    found = claimed.first()
    if found is None:
        return None
    attempt, until = found
    assert until is not None, "set by the claim"
    return attempt, until


async def release_page(
    session: AsyncSession, document_id: UUID, number: int, until: datetime, *, given_back: bool
) -> None:
    """Let go of this reader's claim of the page (`until` names it), unless the page was read
    meanwhile or another reader holds it now: the page may be taken again at once, after the
    pages tried fewer times. `given_back`: its attempt is not counted either (the read failed
    through no fault of the page's)."""
    await session.execute(
        update(DocumentPage)
        .where(
            DocumentPage.document_id == document_id,
            DocumentPage.number == number,
            DocumentPage.read_at.is_(None),
            DocumentPage.read_claimed_until == until,
        )
        .values(
            read_claimed_until=None,
            read_attempts=DocumentPage.read_attempts - (1 if given_back else 0),
        )
    )


async def set_words_read(
    session: AsyncSession,
    document_id: UUID,
    number: int,
    text: str | None,
    words: list[dict[str, Any]] | None,
    read_at: datetime,
) -> bool:
    """Store what OCR read on a page, unless the page was read meanwhile or its document was
    deleted (or is gone): whether it was stored. The document's row is held first
    (`_hold_live_document`): an erasure marks it deleted before it forgets its pages' words, so
    either the erasure waits for this short write, or this sees the document deleted."""
    if not await _hold_live_document(session, document_id):
        return False
    stored = await session.execute(
        update(DocumentPage)
        .where(
            DocumentPage.document_id == document_id,
            DocumentPage.number == number,
            DocumentPage.read_at.is_(None),
        )
        # SQL NULL, not JSON null, for a page without words.
        .values(text=text, words=null() if words is None else words, read_at=read_at)
        .returning(DocumentPage.number)
    )
    return stored.scalar_one_or_none() is not None


async def _hold_live_document(session: AsyncSession, document_id: UUID) -> bool:
    """Hold the document's row (FOR SHARE) until the transaction ends, unless it was deleted
    (or is gone): whether it is held. A reader takes it before its page's row, in the order an
    erasure takes them (the document, then its pages): the other order deadlocked with an
    erasure of the document, which PostgreSQL broke with an error (a 500 for the erasure)."""
    live = (
        select(Document.id)
        .where(Document.id == document_id, Document.deleted_at.is_(None))
        .with_for_update(read=True)
    )
    return (await session.execute(live)).scalar_one_or_none() is not None


async def items_to_extract(session: AsyncSession, limit: int) -> list[tuple[Item, Job]]:
    """Items with documents not extracted yet whose every page is rendered and read, locked;
    others' are skipped."""
    ready = and_(
        ~exists().where(
            Document.id == func.any(Item.documents),
            Document.rendered_at.is_(None),
            Document.deleted_at.is_(None),
        ),
        ~exists().where(
            DocumentPage.document_id == func.any(Item.documents),
            DocumentPage.read_at.is_(None),
        ),
    )
    query = (
        select(Item, Job)
        .join(Job, Job.id == Item.job_id)
        .where(Item.extracted_at.is_(None), Item.documents != [], ready)
        .order_by(Item.id)
        .limit(limit)
        .with_for_update(of=Item, skip_locked=True)
    )
    return [(item, job) for item, job in (await session.execute(query)).all()]


async def items_to_learn_from(session: AsyncSession, limit: int) -> list[tuple[Item, Job]]:
    """Accepted items whose result extraction is still to learn from, locked."""
    query = (
        select(Item, Job)
        .join(Job, Job.id == Item.job_id)
        .where(Item.learn_pending)
        .order_by(Item.id)
        .limit(limit)
        .with_for_update(of=Item, skip_locked=True)
    )
    return [(item, job) for item, job in (await session.execute(query)).all()]


async def page_words(
    session: AsyncSession, document_ids: Sequence[UUID]
) -> list[tuple[UUID, int, list[dict[str, Any]]]]:
    """(document id, page number, words) of the documents' read pages, in the documents'
    order and then by page."""
    query = (
        select(DocumentPage.document_id, DocumentPage.number, DocumentPage.words)
        .join(Document, Document.id == DocumentPage.document_id)
        .where(
            DocumentPage.document_id.in_(list(document_ids)),
            DocumentPage.words.is_not(None),
            Document.deleted_at.is_(None),
        )
    )
    rows = (await session.execute(query)).all()
    order = {document_id: n for n, document_id in enumerate(document_ids)}
    return sorted(
        ((row[0], row[1], row[2]) for row in rows), key=lambda row: (order[row[0]], row[1])
    )


async def page_of_live_document(
    session: AsyncSession, document_id: UUID, number: int
) -> DocumentPage | None:
    """The page, unless its document is gone (or was deleted by retention)."""
    query = (
        select(DocumentPage)
        .join(Document, Document.id == DocumentPage.document_id)
        .where(
            DocumentPage.document_id == document_id,
            DocumentPage.number == number,
            Document.deleted_at.is_(None),
        )
    )
    return (await session.execute(query)).scalar_one_or_none()


async def set_page_words(
    session: AsyncSession,
    document_id: UUID,
    number: int,
    text: str | None,
    words: list[dict[str, Any]] | None,
    read_at: datetime | None,
) -> None:
    await session.execute(
        update(DocumentPage)
        .where(DocumentPage.document_id == document_id, DocumentPage.number == number)
        # SQL NULL, not JSON null, for a page without words.
        .values(text=text, words=null() if words is None else words, read_at=read_at)
    )


async def extract_again(session: AsyncSession, layout_ids: Sequence[UUID]) -> None:
    """Have extraction read again the items of these layouts that no one has started."""
    await session.execute(
        update(Item)
        .where(
            Item.layout_id.in_(list(layout_ids)),
            Item.status == ItemStatus.PENDING,
            Item.extracted_at.is_not(None),
        )
        .values(extracted_at=None)
    )


async def lock_layouts(session: AsyncSession, client_ids: Iterable[UUID]) -> None:
    """Hold these clients' layouts until the transaction ends: one extraction at a time
    matches a client's documents to its layouts (or starts one) and learns from its accepted
    items. Taken before any layout's row is locked, and all at once in one order, so that two
    extractions never wait on each other."""
    keys = sorted({f"layouts:{client_id}" for client_id in client_ids})
    if keys:
        await advisory_lock(session, *keys)


async def layouts_of_client(session: AsyncSession, client_id: UUID) -> list[Layout]:
    """The client's layouts (the caller holds them: `lock_layouts`)."""
    query = select(Layout).where(Layout.client_id == client_id).order_by(Layout.id)
    return list((await session.execute(query)).scalars())


async def add_layout(session: AsyncSession, layout: Layout) -> None:
    session.add(layout)


async def layouts_for_update(session: AsyncSession, layout_ids: Sequence[UUID]) -> list[Layout]:
    query = (
        select(Layout).where(Layout.id.in_(list(layout_ids))).order_by(Layout.id).with_for_update()
    )
    return list((await session.execute(query)).scalars())
