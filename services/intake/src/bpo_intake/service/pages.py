"""Pages of documents as people see them: their images and words through signed links, which
a contractor's work only while they hold a lease on a task keyed from the document."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from obstore.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Principal, Role, contractor_id_of
from bpo_common.clock import utcnow
from bpo_common.errors import Conflict, Forbidden, NotFound
from bpo_intake.domain.links import PageLinks, SignedPage
from bpo_intake.models import Document, DocumentPage
from bpo_intake.repository import documents as repository
from bpo_intake.repository import objects
from bpo_intake.schemas import DocumentPages, DocumentView, PageOut
from bpo_intake.settings import Settings


def page_links(settings: Settings) -> PageLinks:
    return PageLinks(
        settings.document_url_secret.get_secret_value().encode(), settings.document_url_ttl_s
    )


def _shown(
    document: Document,
    pages: Iterable[DocumentPage],
    links: PageLinks,
    now: datetime,
    holder: UUID | None,
) -> list[PageOut]:
    if document.deleted_at is not None:
        return []
    return [
        PageOut(
            number=page.number,
            width=page.width,
            height=page.height,
            image_url=links.url(document.id, page.number, now, holder=holder),
            words_url=links.url(document.id, page.number, now, "/words", holder),
        )
        for page in pages
    ]


async def view(
    session: AsyncSession,
    document: Document,
    links: PageLinks,
    caller: Principal,
    now: datetime | None = None,
) -> DocumentView:
    """The document with its pages' links: a contractor's work while they hold its lease. A
    contractor reads it of the job of the task they hold: a control's documents are those of
    the item it copies, of another job, which would tell them the control from real work."""
    now = now or utcnow()
    holder = contractor_id_of(caller) if caller.role is Role.CONTRACTOR else None
    held = (
        None if holder is None else await repository.job_held_from(session, holder, document, now)
    )
    pages = (await repository.pages_of(session, [document.id])).get(document.id, [])
    return DocumentView(
        id=document.id,
        job_id=held or document.job_id,
        filename=document.filename,
        media_type=document.media_type,
        size=document.size,
        sha256=document.sha256,
        created_at=document.created_at,
        rendered_at=document.rendered_at,
        deleted_at=document.deleted_at,
        pages=_shown(document, pages, links, now, holder),
    )


async def for_items(
    session: AsyncSession,
    document_ids: Sequence[Sequence[UUID]],
    links: PageLinks,
    holder: UUID,
) -> list[list[DocumentPages]]:
    """For each list of document ids (an item's), those documents with their page links, good
    while `holder` holds a lease on them."""
    wanted = {document_id for ids in document_ids for document_id in ids}
    if not wanted:
        return [[] for _ in document_ids]
    found = {document.id: document for document in await repository.documents(session, wanted)}
    pages = await repository.pages_of(session, wanted)
    now = utcnow()
    shown = {
        document.id: DocumentPages(
            id=document.id,
            filename=document.filename,
            pages=_shown(document, pages.get(document.id, []), links, now, holder),
        )
        for document in found.values()
    }
    return [[shown[document_id] for document_id in ids] for ids in document_ids]


async def followed(session: AsyncSession, links: PageLinks, link: SignedPage) -> int:
    """The seconds a page link has left; Forbidden when it expired, is not ours, or is a
    contractor's whose lease on the document ended (released, submitted or run out)."""
    now = utcnow()
    left = links.check(link, now)
    if link.holder is not None and not await repository.held(
        session, link.holder, link.document_id, now
    ):
        raise Forbidden("you no longer hold a task on this document; its pages are closed to you")
    return left


@dataclass(frozen=True)
class PageImage:
    content: bytes
    seconds_left: int


async def page_image(
    session: AsyncSession, store: ObjectStore, links: PageLinks, link: SignedPage
) -> PageImage:
    """A page's image, to whoever holds a valid link to it."""
    left = await followed(session, links, link)
    document_id, number = link.document_id, link.number
    document = await repository.get_document(session, document_id)
    if document is None or document.deleted_at is not None or not 1 <= number <= document.pages:
        raise NotFound(f"no page {number} of document {document_id}")
    if document.rendered_at is None:
        raise Conflict(
            "the page is still being rendered; try again in a moment",
            headers={"Retry-After": "1"},
        )
    try:
        image = await objects.read(
            store, objects.page_image(document.client_id, document.sha256, number)
        )
    except NotFound as exc:  # its path names the client and the bytes: no reader's business
        raise NotFound(
            f"no image of page {number} of document {document_id}: it could not be drawn"
        ) from exc
    return PageImage(image, left)
