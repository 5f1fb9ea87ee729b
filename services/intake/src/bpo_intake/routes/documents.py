"""Documents: clients upload the files items are keyed from; their client, managers and the
contractor working on them read them back, page images through signed links.

How the file comes is read here: the body itself (`?filename=`), a multipart `file` part,
or a zip of many (so said by the body's Content-Type, or known by its bytes as the body or
the part); what the bytes are is sniffed from them, whatever the header says.
"""

import hashlib
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from obstore.store import ObjectStore
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from bpo_common import audit
from bpo_common.auth import CurrentClient, KeyScope, Principal, Role, Scope, require_role
from bpo_common.db import SessionDep, SessionFactoryDep
from bpo_common.errors import FieldError, Invalid
from bpo_common.idempotency import ParsedIdempotency, ParsedIdempotencyDep
from bpo_common.media import attachment, drain
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.text import CheckedRoute
from bpo_intake.domain.documents import Inspected
from bpo_intake.domain.links import SignedPage
from bpo_intake.schemas import DocumentOut, DocumentsOut, DocumentView, PageWords
from bpo_intake.service import documents, extraction, pages
from bpo_intake.service.documents import StoredBytes
from bpo_intake.settings import Settings, SettingsDep

router = APIRouter(prefix="/v1", tags=["documents"], route_class=CheckedRoute)

# Who may read a document, as far as a token says: its client (an API key: results:read), an
# operations manager, a contractor (whether they hold a lease on it is for the use case).
DocumentReader = Annotated[
    Principal,
    Depends(
        require_role(
            Role.CLIENT,
            Role.MANAGER,
            Role.CONTRACTOR,
            manager=[Scope.OPS],
            client=[KeyScope.RESULTS_READ],
        )
    ),
]


async def document_store(settings: SettingsDep) -> ObjectStore:
    """The store documents' bytes and page images are in, as the settings name it."""
    return documents.document_store(settings)


DocumentStore = Annotated[ObjectStore, Depends(document_store)]


async def swept_bytes(
    sessions: SessionFactoryDep, store: DocumentStore
) -> AsyncIterator[list[StoredBytes]]:
    """Where a use case adds the bytes it writes to the store or lets go of: they are swept
    once the request's transaction has ended, committed or not (this exit runs after the
    session's, which is the function's)."""
    stored: list[StoredBytes] = []
    try:
        yield stored
    finally:
        await documents.sweep(sessions, store, stored)


BytesToSweep = Annotated[list[StoredBytes], Depends(swept_bytes)]
# What the routes that write or read those bytes answer while the store is away.
STORE_AWAY: dict[str, Any] = {
    "description": "The document store is out of reach: retry after `Retry-After` seconds",
    **PROBLEM_RESPONSE,
}

ZIP_TYPES = ("application/zip", "application/x-zip-compressed")
MULTIPART = "multipart/form-data"
# How a zip begins (its first member's header): a zip is known by it, however it is sent.
ZIP_SIGNATURE = b"PK\x03\x04"
# A zip is kept in memory up to this size, on disk past it.
SPOOL_BYTES = 16 * 1024 * 1024
# A multipart part is read this much at a time.
READ_BYTES = 1024 * 1024

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "A PDF, PNG, JPEG, TIFF or WebP as the body (name it with `?filename=`), as the "
            "multipart part `file`, or a zip whose every file becomes a document (as an "
            "`application/zip` body, or known by its bytes as the body or the part). What the "
            "bytes are is read from them. All are stored, or none."
        ),
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/jobs/{job_id}/documents",
    status_code=201,
    response_model=DocumentOut | DocumentsOut,
    openapi_extra=_UPLOAD_BODY,
    responses={409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE, 503: STORE_AWAY},
)
async def upload_documents(
    job_id: UUID,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
    idempotency: ParsedIdempotencyDep,
    settings: SettingsDep,
    store: DocumentStore,
    written: BytesToSweep,
    filename: Annotated[
        str | None,
        Query(min_length=1, max_length=255, description="the file's name, for a bare body"),
    ] = None,
) -> JSONResponse:
    """Attach a document (or a zip of many) to an open job; one bad file and none is stored."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    chunks = request.stream()
    if media_type == MULTIPART:
        files, zipped = await _multipart(request, chunks, settings, filename, idempotency)
    else:
        nameless = Invalid(
            "name the file: ?filename=invoice-7.pdf (or send it as the multipart part file)",
            errors=[FieldError("filename", "required for a file sent as the body")],
        )
        declared = media_type in ZIP_TYPES
        files, zipped = await _received(chunks, declared, filename, nameless, settings, idempotency)
    stored = await documents.add_documents(session, store, job_id, client.client_id, files, written)
    audit.summarize(session, documents=len(stored))
    if zipped:
        body: DocumentOut | DocumentsOut = DocumentsOut(documents=stored)
    else:
        (body,) = stored
    return await idempotency.respond(201, body)


async def _received(
    blocks: AsyncIterator[bytes],
    declared_zip: bool,
    filename: str | None,
    nameless: Invalid,
    settings: Settings,
    idempotency: ParsedIdempotency,
) -> tuple[list[Inspected], bool]:
    """The documents of a file as it came (the body, or the multipart part), and whether it
    was a zip: its Content-Type says so, or its first bytes do while its name, if it has one,
    ends in .zip (a zip a tool sends as a part, or as application/octet-stream), and then its
    members are the documents. Any other file
    is one document, named `filename` (or `nameless` is raised)."""
    head = b""
    async for block in blocks:
        head += block
        if len(head) >= len(ZIP_SIGNATURE):
            break
    blocks = _after(head, blocks)
    # A file named otherwise that is a zip inside (a .docx, an .xlsx) is one file, refused
    # under its own name, not opened.
    named_a_zip = filename is None or filename.lower().endswith(".zip")
    if declared_zip or (head.startswith(ZIP_SIGNATURE) and named_a_zip):
        return await _zip(blocks, settings, idempotency), True
    if filename is None:
        await drain(blocks)
        raise nameless
    content, digest = await _kept_and_hashed(blocks, settings.document_max_bytes)
    # The same file under the same name, however it came (a multipart body's boundary changes
    # with each try), and known before it is inspected again.
    idempotency.parsed(f"one\n{filename}\t{digest}".encode())
    return await documents.inspect_file(filename, content, settings), False


async def _after(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The blocks of a file whose first bytes, `head`, were read to tell what it is."""
    yield head
    async for block in rest:
        yield block


async def _kept_and_hashed(blocks: AsyncIterator[bytes], limit: int) -> tuple[bytes, str]:
    """The bytes, past `limit` only enough to say they are too many, and the SHA-256 of all."""
    content, digest = bytearray(), hashlib.sha256()
    async for block in blocks:
        digest.update(block)
        if len(content) <= limit:
            content += block
    return bytes(content), digest.hexdigest()


async def _blocks(part: UploadFile) -> AsyncIterator[bytes]:
    while block := await part.read(READ_BYTES):
        yield block


async def _multipart(
    request: Request,
    chunks: AsyncGenerator[bytes, None],
    settings: Settings,
    filename: str | None,
    idempotency: ParsedIdempotency,
) -> tuple[list[Inspected], bool]:
    """As `_received`, of the part named file."""
    try:
        form = await MultiPartParser(request.headers, chunks, max_files=1, max_fields=10).parse()
    except MultiPartException as exc:  # the body cannot be read as multipart
        await drain(chunks)
        raise Invalid(
            f"the multipart body could not be read ({exc.message}): send one part, the "
            "document, named file",
            errors=[FieldError("file", exc.message)],
        ) from exc
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise Invalid(
                "send the document as the multipart part named file",
                errors=[FieldError("file", "missing, or not a file")],
            )
        nameless = Invalid(
            "name the file: give the part a filename, or ?filename=",
            errors=[FieldError("filename", "required")],
        )
        name = filename or part.filename or None
        return await _received(_blocks(part), False, name, nameless, settings, idempotency)
    finally:
        await form.close()


async def _zip(
    chunks: AsyncIterator[bytes], settings: Settings, idempotency: ParsedIdempotency
) -> list[Inspected]:
    """The zip's documents; a repeated upload is known by the zip's bytes, before they are
    inspected again."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spooled:
        async for chunk in chunks:
            digest.update(chunk)
            spooled.write(chunk)
        idempotency.parsed(f"zip\n{digest.hexdigest()}".encode())
        spooled.seek(0)
        return await documents.inspect_zip(spooled, settings)


@router.get("/documents/{document_id}")
async def get_document(
    document_id: UUID, session: SessionDep, caller: DocumentReader, settings: SettingsDep
) -> DocumentView:
    """A document's metadata and its pages, each with a short-lived signed image link."""
    document = await documents.readable(session, document_id, caller)
    return await pages.view(session, document, pages.page_links(settings), caller)


@router.get(
    "/documents/{document_id}/file",
    response_class=Response,
    responses={
        200: {"description": "the bytes as uploaded", "content": {"*/*": {}}},
        503: STORE_AWAY,
    },
)
async def get_document_file(
    document_id: UUID, session: SessionDep, caller: DocumentReader, store: DocumentStore
) -> Response:
    """The document's bytes as they were uploaded."""
    document = await documents.readable(session, document_id, caller)
    content = await documents.original(store, document)
    headers = attachment(document.filename) | {"Cache-Control": "private, no-store"}
    return Response(content, media_type=document.media_type, headers=headers)


async def signed_page(
    document_id: UUID,
    number: Annotated[int, Path(ge=1)],
    expires: Annotated[int, Query(description="from the signed link")],
    signature: Annotated[str, Query(max_length=128, description="from the signed link")],
    holder: Annotated[UUID | None, Query(description="from a contractor's signed link")] = None,
) -> SignedPage:
    return SignedPage(document_id, number, expires, signature, holder)


SignedPageDep = Annotated[SignedPage, Depends(signed_page)]


@router.get(
    "/documents/{document_id}/pages/{number}",
    response_class=Response,
    responses={
        200: {"description": "the page as a WebP image", "content": {"image/webp": {}}},
        403: PROBLEM_RESPONSE,
        409: PROBLEM_RESPONSE,
        503: STORE_AWAY,
    },
)
async def get_page_image(
    link: SignedPageDep, session: SessionDep, settings: SettingsDep, store: DocumentStore
) -> Response:
    """A page's image, through the signed link a document or a task gave (no token needed)."""
    image = await pages.page_image(session, store, pages.page_links(settings), link)
    # A contractor's link closes with their lease: their browser keeps no copy to show after.
    cache = (
        "private, no-store"
        if link.holder is not None
        else f"private, max-age={image.seconds_left}, immutable"
    )
    return Response(image.content, media_type="image/webp", headers={"Cache-Control": cache})


@router.get(
    "/documents/{document_id}/pages/{number}/words",
    responses={403: PROBLEM_RESPONSE, 409: PROBLEM_RESPONSE},
)
async def get_page_words(
    link: SignedPageDep, session: SessionDep, settings: SettingsDep
) -> PageWords:
    """A page's words and their boxes, through the signed link a document or a task gave."""
    return await extraction.page_words(session, pages.page_links(settings), link)
