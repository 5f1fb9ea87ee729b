"""Documents: clients upload them to a job, items reference them, the people allowed to
read them do so through signed page links; a worker renders their pages, another deletes
them when the job's retention has run out.

An upload is all or nothing: every file is inspected (in a process apart, within a time and a
memory limit: `decoding`) before any byte is stored, and one refused file refuses the request,
naming it. Bytes go to the object store (repository.objects) first, content-addressed; the
rows follow in the request's transaction. The store is no part of that transaction: the
bytes an upload wrote, or a deletion let go of, are swept once it has ended (`sweep`), and go
unless a live document has them, so that a transaction that does not commit leaves no bytes
that no row names, and none that a row names is deleted before its deletion commits. Bytes
left all the same (the process died before its sweep) are found by a scan of the store,
every day (`orphans`).
"""

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO
from uuid import UUID

import structlog
from obstore.store import ObjectStore
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Principal
from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DocumentsAdded
from bpo_common.db import SessionFactory
from bpo_common.errors import Conflict, FieldError, Invalid, NotFound, Unavailable
from bpo_common.ids import new_id
from bpo_common.notifications import notify
from bpo_common.outbox import publish
from bpo_intake.domain import documents as domain
from bpo_intake.domain import zips
from bpo_intake.domain.documents import Inspected, Limits, MemberRefused, Refused
from bpo_intake.domain.jobs import JobStatus
from bpo_intake.models import Document
from bpo_intake.repository import documents as repository
from bpo_intake.repository import objects
from bpo_intake.schemas import DocumentOut
from bpo_intake.service.decoding import Decoder, decoder
from bpo_intake.settings import Settings

log = structlog.get_logger(__name__)
# A zip's members are held in memory while read: one zip at a time (waiting holds no thread).
_ZIPS = asyncio.Lock()
RETENTION_BATCH = 100
SWEEP_AFTER = timedelta(minutes=5)  # a deleted document's bytes swept again past this
SWEEP_FAILURES = 3  # deletes that fail in a row before a sweep stops: the store is away


def limits(settings: Settings) -> Limits:
    return Limits(
        max_bytes=settings.document_max_bytes,
        max_pages=settings.document_max_pages,
        max_pixels=settings.document_max_pixels,
        max_members=settings.document_zip_max_members,
    )


@dataclass(frozen=True)
class StoredBytes:
    """A document's bytes in the store, with the images of its `pages`."""

    client_id: UUID
    sha256: str
    pages: int

    def paths(self) -> list[str]:
        return [objects.original(self.client_id, self.sha256)] + [
            objects.page_image(self.client_id, self.sha256, number)
            for number in range(1, self.pages + 1)
        ]


def document_store(settings: Settings) -> ObjectStore:
    """The object store documents go to, as the settings name it."""
    return objects.open_store(settings.document_store_url, settings.document_store_options)


def document_decoder(settings: Settings) -> Decoder:
    """The process PDFium and Pillow read uploaded bytes in, as the settings limit it."""
    return decoder(settings.document_decode_timeout_s, settings.document_decode_memory_mb)


# Uploads


def _refusal(name: str, exc: Refused) -> Invalid:
    where = exc.member if isinstance(exc, MemberRefused) else name
    return Invalid(f"nothing was stored: {where}: {exc}", errors=[FieldError(where, str(exc))])


async def inspect_file(filename: str, content: bytes, settings: Settings) -> list[Inspected]:
    """One file as a document (a zip's member, by its path in the zip), or Invalid naming it."""
    filename = domain.document_name(filename)
    try:
        described = await document_decoder(settings).describe(filename, content, limits(settings))
    except Refused as exc:
        raise _refusal(filename, exc) from exc
    return [Inspected.of(filename, content, described)]


async def inspect_zip(archive: IO[bytes], settings: Settings) -> list[Inspected]:
    """Every member of a zip as a document, or Invalid naming the first one refused. The
    members are read one zip at a time (they are held in memory), and each is read by the
    decoder as a file of its own, within its limits (handed over together: the decoder reads
    one after the other without waiting for each answer)."""
    bounds = limits(settings)
    async with _ZIPS:
        try:
            named = await asyncio.to_thread(zips.read_zip, archive, bounds)
            described = await document_decoder(settings).describe_members(named, bounds)
        except Refused as exc:
            raise _refusal("body", exc) from exc
        return [
            Inspected.of(name, content, description)
            for (name, content), description in zip(named, described, strict=True)
        ]


async def add_documents(
    session: AsyncSession,
    store: ObjectStore,
    job_id: UUID,
    client_id: UUID,
    files: Sequence[Inspected],
    written: list[StoredBytes],
) -> list[DocumentOut]:
    """Store inspected files as documents of the client's open job; the bytes it writes are
    added to `written`, to be swept once the transaction has ended."""
    job = await repository.lock_job(session, job_id, client_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.status is not JobStatus.OPEN:
        raise Conflict(
            f"job {job_id} is {job.status.value}; documents can be added only while it is open"
        )
    names = [file.filename for file in files]
    # Counted once over, not scanned again for each name: a zip holds up to thousands.
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        errors = [FieldError(name, "appears more than once in the zip") for name in repeated]
        raise Invalid(f"nothing was stored: {repeated[0]} appears more than once", errors=errors)
    taken = sorted(await repository.taken_filenames(session, job_id, names))
    if taken:
        raise Conflict(
            f"nothing was stored: the job already has a document named {taken[0]}"
            + (f" (and {len(taken) - 1} more: see errors)" if len(taken) > 1 else ""),
            errors=[
                FieldError(name, "the job already has a document of this name") for name in taken
            ],
        )
    unique = {file.sha256: file for file in files}
    await repository.lock_bytes(session, [(client_id, sha256) for sha256 in unique])
    for sha256, file in unique.items():
        # Swept even if the put fails: a store may have taken bytes whose answer was lost.
        written.append(StoredBytes(client_id, sha256, len(file.pages)))
        await objects.put(store, objects.original(client_id, sha256), file.content)
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "job_id": job_id,
            "client_id": client_id,
            "filename": file.filename,
            "media_type": file.media_type.value,
            "size": len(file.content),
            "sha256": file.sha256,
            "pages": len(file.pages),
            "created_at": now,
            "rendered_at": None,
            "deleted_at": None,
        }
        for file in files
    ]
    pages = [
        {
            "document_id": row["id"],
            "number": number,
            "width": size.width,
            "height": size.height,
            "text": None,
            "words": None,
        }
        for row, file in zip(rows, files, strict=True)
        for number, size in enumerate(file.pages, start=1)
    ]
    await repository.add_documents(session, rows, pages)
    await notify(session, domain.WORK_CHANNEL)
    added = DocumentsAdded(
        job_id=job_id,
        client_id=client_id,
        work_type=job.work_type,
        documents=len(rows),
        pages=len(pages),
        added_at=now,
    )
    await publish(session, added, client_id=client_id)
    return [DocumentOut.model_validate(row) for row in rows]


# Reading


async def readable(
    session: AsyncSession, document_id: UUID, caller: Principal, now: datetime | None = None
) -> Document:
    """The document, if the caller may read it; 404 as if it did not exist otherwise."""
    document = await repository.readable(session, document_id, caller, now or utcnow())
    if document is None:
        raise NotFound(f"no document {document_id}")
    return document


async def original(store: ObjectStore, document: Document) -> bytes:
    if document.deleted_at is not None:
        raise NotFound(f"document {document.id} was deleted on {document.deleted_at:%Y-%m-%d}")
    try:
        return await objects.read(store, objects.original(document.client_id, document.sha256))
    except NotFound as exc:  # its path names the client and the bytes: no reader's business
        raise NotFound(f"the file of document {document.id} is not in the document store") from exc


# References from items


async def resolve(
    session: AsyncSession, job_id: UUID, references: Sequence[Sequence[str]]
) -> tuple[list[list[UUID]], list[tuple[int, FieldError]]]:
    """Each item's document references as document ids, and the references that are not
    documents of the job, by the item's position (`documents[1]`)."""
    named = {reference for item in references for reference in item}
    found = await repository.references(session, job_id, named) if named else {}
    errors = [
        (item, FieldError(f"documents[{position}]", f"no document {reference!r} in this job"))
        for item, refs in enumerate(references)
        for position, reference in enumerate(refs)
        if reference not in found
    ]
    resolved = [[found[ref] for ref in refs if ref in found] for refs in references]
    return resolved, errors


# Background work


async def delete_expired(
    session: AsyncSession, retention_days: int, now: datetime, released: list[StoredBytes]
) -> int:
    """Delete the documents whose job ended more than `retention_days` ago (up to
    RETENTION_BATCH of them; see `delete_documents`); returns how many."""
    expired = await repository.expired(
        session, now - timedelta(days=retention_days), RETENTION_BATCH
    )
    await delete_documents(session, expired, now, released)
    return len(expired)


async def delete_documents(
    session: AsyncSession, documents: Sequence[Document], now: datetime, released: list[StoredBytes]
) -> None:
    """Mark the documents deleted; their bytes and page images are added to `released`, to
    be swept once the transaction has committed (a rollback leaves them named and stored)."""
    await repository.mark_deleted(session, [document.id for document in documents], now)
    released.extend(
        StoredBytes(document.client_id, document.sha256, document.pages) for document in documents
    )


async def sweep(
    sessions: SessionFactory, store: ObjectStore, stored: Sequence[StoredBytes]
) -> bool:
    """Once the transaction that wrote or let go of these bytes has ended, committed or not:
    delete those that no live document has, while an upload of the same bytes (which would
    write them again) waits, and mark the deleted documents that had them swept. Bytes it
    cannot delete now are logged and left (the transaction's outcome, already decided, is not
    the store's to change; after SWEEP_FAILURES in a row it stops: the store is away), and a
    deleted document's are swept again (`sweep_left`). Returns whether it swept them all."""
    unique = {(item.client_id, item.sha256): item for item in stored}
    if not unique:
        return True
    swept: list[tuple[UUID, str]] = []
    try:
        async with sessions() as session, session.begin():
            await repository.lock_bytes(session, unique)
            # The documents deleted before the bytes are checked: one whose deletion commits
            # meanwhile (erasures take no lock) is left to its own sweep.
            deleted = await repository.unswept_with(session, unique)
            live = await repository.stored_among(session, unique)
            swept = [key for key in unique if key in live]
            failures = 0
            for key in (key for key in unique if key not in live):
                try:
                    await objects.delete(store, unique[key].paths())
                except Unavailable:
                    log.warning("document_bytes_left", path=objects.original(*key))
                    failures += 1
                    if failures == SWEEP_FAILURES:
                        break
                    continue
                failures = 0
                swept.append(key)
            ids = [document_id for key in swept for document_id in deleted.get(key, [])]
            await repository.mark_swept(session, ids, utcnow())
    except Exception:
        log.exception("document_bytes_left", paths=[objects.original(*key) for key in unique])
        return False
    return len(swept) == len(unique)


async def sweep_left(sessions: SessionFactory, store: ObjectStore, now: datetime) -> int:
    """Sweep again the bytes of documents deleted a while ago (SWEEP_AFTER: their own sweep
    has had its turn) that no sweep has removed yet, up to RETENTION_BATCH; returns how many
    documents it swept."""
    async with sessions() as session:
        left = await repository.unswept(session, now - SWEEP_AFTER, RETENTION_BATCH)
    swept = await sweep(
        sessions, store, [StoredBytes(d.client_id, d.sha256, d.pages) for d in left]
    )
    return len(left) if swept else 0
