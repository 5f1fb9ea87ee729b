"""Queries on documents and their pages."""

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bpo_common.auth import Principal, Role, contractor_id_of
from bpo_common.db import advisory_lock, copy_rows
from bpo_intake.domain.documents import document_name, id_text
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import UNSWEPT, Document, DocumentPage, Item, Job, Task
from bpo_intake.repository import is_a_set, job_ended, of_client

# An item's documents by file name, in the order the item names them (SQL on `item`).
ITEM_DOCUMENT_NAMES = (
    "ARRAY(SELECT d.filename FROM unnest(item.documents) WITH ORDINALITY AS named(id, n)"
    " JOIN document d ON d.id = named.id ORDER BY named.n)"
)


async def lock_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    """The job, for an upload: one upload of the job at a time names its files (a lock of its
    own), and the job is key-share-locked until the transaction ends, so that it cannot be
    closed, cancelled or erased meanwhile, while decisions, claims and controls go on."""
    await advisory_lock(session, f"uploads:{job_id}")
    query = of_client(select(Job).where(Job.id == job_id), Job.client_id, scope)
    locked = query.with_for_update(read=True, key_share=True)
    return (await session.execute(locked)).scalar_one_or_none()


async def lock_bytes(session: AsyncSession, stored: Iterable[tuple[UUID, str]]) -> None:
    """Hold these (client, sha256) bytes until the transaction ends: an upload that writes
    them and retention that may delete them take turns (in one order, so that two of them
    never wait on each other)."""
    keys = sorted({f"document:{client_id}:{sha256}" for client_id, sha256 in stored})
    await advisory_lock(session, *keys)


async def taken_filenames(session: AsyncSession, job_id: UUID, names: Collection[str]) -> set[str]:
    """Those of the names the job's documents have (an erased document's name is forgotten)."""
    query = select(Document.filename).where(
        Document.job_id == job_id, Document.filename.in_(list(names))
    )
    return set((await session.execute(query)).scalars())


async def add_documents(
    session: AsyncSession, documents: Sequence[dict[str, Any]], pages: Sequence[dict[str, Any]]
) -> None:
    await copy_rows(session, Document.__table__, documents)
    await copy_rows(session, DocumentPage.__table__, pages)


async def references(
    session: AsyncSession, job_id: UUID, named: Collection[str]
) -> dict[str, UUID]:
    """The job's documents that `named` references, by file name or id as written, else by
    the id a reference reads as in another case or form (`0193AB4C-…`, as every path of the
    API takes an id), else by the name in NFC, as names are stored (`document_name`: a name
    found as written was stored before they were); a deleted one (erased, or past its
    retention) is none."""
    ids = {reference: text for reference in named if (text := id_text(reference)) is not None}
    names = {reference: document_name(reference) for reference in named}
    query = select(Document.id, Document.filename).where(
        Document.job_id == job_id,
        Document.deleted_at.is_(None),
        or_(
            Document.filename.in_(list({*named, *names.values()})),
            cast(Document.id, String).in_([*named, *ids.values()]),
        ),
    )
    found: dict[str, UUID] = {}
    for document_id, filename in await session.execute(query):
        found[filename] = document_id
        found[str(document_id)] = document_id
    # A reference found as written is that document, whatever id it reads as.
    by_id = {ref: found[text] for ref, text in ids.items() if ref not in found and text in found}
    by_name = {ref: found[nfc] for ref, nfc in names.items() if ref not in found and nfc in found}
    return found | by_id | by_name


def _held_by(contractor_id: UUID, document_id: UUID, now: datetime) -> Any:
    """A live lease of the contractor on a task of an item keyed from the document."""
    return exists().where(
        Task.contractor_id == contractor_id,
        Task.status == TaskStatus.LEASED,
        Task.lease_expires_at > now,
        Item.id == Task.item_id,
        Item.documents.contains([document_id]),
    )


async def held(
    session: AsyncSession, contractor_id: UUID, document_id: UUID, now: datetime
) -> bool:
    """Whether the contractor holds a live lease on a task keyed from the document."""
    return bool((await session.execute(select(_held_by(contractor_id, document_id, now)))).scalar())


async def job_held_from(
    session: AsyncSession, contractor_id: UUID, document: Document, now: datetime
) -> UUID | None:
    """The job of a task keyed from the document that the contractor holds a live lease on:
    the document's own job when they hold one of its tasks, else the job a control copied
    from one of its items went into."""
    query = (
        select(Task.job_id)
        .join(Item, Item.id == Task.item_id)
        .where(
            Task.contractor_id == contractor_id,
            Task.status == TaskStatus.LEASED,
            Task.lease_expires_at > now,
            Item.documents.contains([document.id]),
        )
        .order_by(Task.job_id != document.job_id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def readable(
    session: AsyncSession, document_id: UUID, caller: Principal, now: datetime
) -> Document | None:
    """The document, if the caller may read it: its client, a manager, or a contractor who
    holds a live lease on a task of an item keyed from it."""
    query = select(Document).where(Document.id == document_id)
    if caller.role is Role.CONTRACTOR:
        query = query.where(_held_by(contractor_id_of(caller), document_id, now))
    else:
        query = of_client(query, Document.client_id, caller.scope())
    return (await session.execute(query)).scalar_one_or_none()


async def get_document(session: AsyncSession, document_id: UUID) -> Document | None:
    return await session.get(Document, document_id)


async def pages_of(
    session: AsyncSession, document_ids: Iterable[UUID]
) -> dict[UUID, list[DocumentPage]]:
    """Each document's pages, in order."""
    query = (
        select(DocumentPage)
        .where(DocumentPage.document_id.in_(list(document_ids)))
        .order_by(DocumentPage.document_id, DocumentPage.number)
    )
    pages: dict[UUID, list[DocumentPage]] = {}
    for page in (await session.execute(query)).scalars():
        pages.setdefault(page.document_id, []).append(page)
    return pages


async def filenames(session: AsyncSession, document_ids: Iterable[UUID]) -> dict[UUID, str]:
    query = select(Document.id, Document.filename).where(Document.id.in_(list(document_ids)))
    return {document_id: name for document_id, name in await session.execute(query)}


async def documents(session: AsyncSession, document_ids: Iterable[UUID]) -> list[Document]:
    query = select(Document).where(Document.id.in_(list(document_ids)))
    return list((await session.execute(query)).scalars())


async def unrendered(session: AsyncSession, passed_over: Collection[UUID] = ()) -> Document | None:
    """The first document whose pages are still to be rendered that no renderer holds, but
    those passed over, locked until the transaction ends (to be claimed: `claim_render`);
    rows others lock are skipped (an erasure's under way, or a renderer's of the release
    before intake_0039, which holds the document it draws)."""
    query = (
        select(Document)
        .where(
            Document.rendered_at.is_(None),
            Document.deleted_at.is_(None),
            _render_unclaimed(),
            Document.id.not_in(list(passed_over)),
        )
        .order_by(Document.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _render_unclaimed() -> ColumnElement[bool]:
    """No renderer holds the document: none claimed it, or its claim ran out."""
    return or_(Document.render_claimed_until.is_(None), Document.render_claimed_until < func.now())


async def claim_render(
    session: AsyncSession, document_id: UUID, held_s: float
) -> tuple[int, datetime]:
    """Hold the document (locked: `unrendered`) for this renderer for `held_s` seconds, one
    more attempt at rendering it counted: the number of this attempt and when the claim runs
    out, which names it. Committed before the drawing starts: no transaction is open, and no
    row held, while the document is drawn."""
    claimed = await session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            render_attempts=Document.render_attempts + 1,
            render_claimed_until=func.now() + timedelta(seconds=held_s),
        )
        .returning(Document.render_attempts, Document.render_claimed_until)
        .execution_options(synchronize_session=False)
    )
    attempt, until = claimed.one()
    assert until is not None, "set by the claim"
    return attempt, until


async def renew_render(
    session: AsyncSession, document_id: UUID, until: datetime, held_s: float
) -> datetime | None:
    """Hold the document of the claim `until` names for `held_s` seconds more: when the claim
    now runs out, or None, nothing renewed, when this renderer no longer holds it (its claim
    ran out and another took it, or it was rendered)."""
    renewed = await session.execute(
        update(Document)
        .where(Document.id == document_id, Document.render_claimed_until == until)
        .values(render_claimed_until=func.now() + timedelta(seconds=held_s))
        .returning(Document.render_claimed_until)
    )
    return renewed.scalars().first()


async def finish_render(
    session: AsyncSession, document_id: UUID, until: datetime, rendered_at: datetime
) -> bool:
    """Mark the document rendered and let go of this renderer's claim (`until` names it),
    unless another renderer holds it now or it was rendered meanwhile: whether it was. One
    deleted meanwhile (erased, or past its retention) is not, its claim let go of all the same
    (its bytes are swept only once no renderer holds it: `unswept_with`). The document's row
    is locked first, before the caller stores its pages' words, in the order an erasure locks
    them; an erasure that took it first is waited for, and its deletion seen."""
    claimed = and_(
        Document.id == document_id,
        Document.render_claimed_until == until,
        Document.rendered_at.is_(None),
    )
    rendered = await session.execute(
        update(Document)
        .where(claimed, Document.deleted_at.is_(None))
        .values(rendered_at=rendered_at, render_claimed_until=None)
        .returning(Document.id)
    )
    if rendered.first() is not None:
        return True
    await release_render(session, document_id, until, given_back=False)
    return False


async def release_render(
    session: AsyncSession, document_id: UUID, until: datetime, *, given_back: bool
) -> None:
    """Let go of this renderer's claim of the document (`until` names it), unless another
    renderer holds it now: it may be taken again at once. `given_back`: its attempt is not
    counted either (the render failed, or stopped, through no fault of the document's)."""
    await session.execute(
        update(Document)
        .where(Document.id == document_id, Document.render_claimed_until == until)
        .values(
            render_claimed_until=None,
            render_attempts=Document.render_attempts - (1 if given_back else 0),
        )
    )


async def expired(session: AsyncSession, ended_before: datetime, limit: int) -> list[Document]:
    """Documents not yet deleted whose job completed or was cancelled before `ended_before`,
    locked; others' are skipped. Kept while a control copied from an item keyed from one (into
    another job) has a task queued or held, or its job is a qualification's set, whose copies
    are keyed from its documents."""
    ended = job_ended()
    original, copy = aliased(Item), aliased(Item)
    copied = (
        select(original.id)
        .join(copy, copy.control_of == original.id)
        .join(Task, Task.item_id == copy.id)
        .where(
            original.job_id == Document.job_id,
            Document.id == any_(original.documents),
            Task.status.in_([TaskStatus.QUEUED, TaskStatus.LEASED]),
        )
        .exists()
    )
    query = (
        select(Document)
        .join(Job, and_(Job.id == Document.job_id, ended < ended_before))
        .where(Document.deleted_at.is_(None), ~copied, ~is_a_set(Document.job_id))
        .order_by(Document.id)
        .limit(limit)
        .with_for_update(of=Document, skip_locked=True)
    )
    return list((await session.execute(query)).scalars())


def _pairs(stored: Collection[tuple[UUID, str]]) -> Any:
    """These (client, sha256) as a table of rows to join."""
    return (
        func.unnest(
            bindparam("clients", [client_id for client_id, _ in stored], type_=ARRAY(Uuid)),
            bindparam("hashes", [sha256 for _, sha256 in stored], type_=ARRAY(Text)),
        )
        .table_valued("client_id", "sha256")
        .render_derived(name="pairs")
    )


async def stored_among(
    session: AsyncSession, stored: Collection[tuple[UUID, str]], *, unswept_too: bool = False
) -> set[tuple[UUID, str]]:
    """Those of these (client, sha256) bytes that a document not deleted has (`unswept_too`:
    or one deleted whose bytes a sweep has yet to delete)."""
    pairs = _pairs(stored)
    live = Document.deleted_at.is_(None)
    held = exists().where(
        Document.client_id == pairs.c.client_id,
        Document.sha256 == pairs.c.sha256,
        or_(live, UNSWEPT) if unswept_too else live,
    )
    query = select(pairs.c.client_id, pairs.c.sha256).where(held)
    return {(client_id, sha256) for client_id, sha256 in await session.execute(query)}


async def unswept_with(
    session: AsyncSession, stored: Collection[tuple[UUID, str]]
) -> dict[tuple[UUID, str], list[UUID]]:
    """The deleted documents with each of these (client, sha256) bytes not swept yet, but
    those a renderer holds: it may put their page images after this sweep, and they are swept
    again once it has let go (`sweep_left`)."""
    pairs = _pairs(stored)
    query = select(Document.client_id, Document.sha256, Document.id).where(
        Document.client_id == pairs.c.client_id,
        Document.sha256 == pairs.c.sha256,
        UNSWEPT,
        _render_unclaimed(),
    )
    found: dict[tuple[UUID, str], list[UUID]] = {}
    for client_id, sha256, document_id in await session.execute(query):
        found.setdefault((client_id, sha256), []).append(document_id)
    return found


async def mark_swept(session: AsyncSession, document_ids: Sequence[UUID], now: datetime) -> None:
    """These deleted documents' bytes and page images: gone from the store."""
    if document_ids:
        await session.execute(
            update(Document).where(Document.id.in_(document_ids)).values(swept_at=now)
        )


async def unswept(session: AsyncSession, deleted_before: datetime, limit: int) -> list[Document]:
    """Deleted documents (before `deleted_before`) whose bytes a sweep may have left."""
    query = (
        select(Document)
        .where(UNSWEPT, Document.deleted_at < deleted_before)
        .order_by(Document.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def mark_deleted(session: AsyncSession, document_ids: Sequence[UUID], now: datetime) -> None:
    """The documents deleted, and the text and words read from their pages forgotten (their
    sizes stay)."""
    await session.execute(
        update(Document).where(Document.id.in_(document_ids)).values(deleted_at=now)
    )
    await session.execute(
        update(DocumentPage)
        .where(DocumentPage.document_id.in_(document_ids))
        .values(text=None, words=None)
    )
