"""Documents: upload one, many in a zip, or refused; items keyed from them; who may read
them, and page images through signed links that expire."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, Tokens, assert_problem, error_fields, eventually, serve
from bpo_intake.app import create_app
from bpo_intake.domain.links import PageLinks
from bpo_intake.models import Document, DocumentPage
from bpo_intake.repository.objects import open_store
from bpo_intake.settings import Settings

from .conftest import create_job, register_client
from .documents import image, invoice_pdf, zipped
from .keying import FIELDS, claim_tasks, new_contractor, past

SECRET = "test-document-links"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(scope="module")
def documents_app(stack: TestStack, store_dir: Path) -> FastAPI:
    settings = stack.settings(
        Settings,
        "intake",
        document_store_url=store_dir.as_uri(),
        document_url_secret=SECRET,
        document_max_bytes=200_000,
        document_max_pages=5,
        document_max_pixels=1_000_000,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
async def api(documents_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(documents_app) as client:
        yield client


@pytest.fixture(scope="module")
def sessions(documents_app: FastAPI, api: httpx.AsyncClient) -> SessionFactory:
    factory: SessionFactory = documents_app.state.runtime.sessions
    return factory


async def open_job(api: httpx.AsyncClient, tokens: Tokens) -> tuple[UUID, dict[str, Any]]:
    client_id = await register_client(api, tokens)
    job = await create_job(
        api, tokens, client_id, fields=FIELDS, qc={"mode": "single"}, sla_hours=None, due_at=past(1)
    )
    return client_id, job


async def upload(
    api: httpx.AsyncClient,
    tokens: Tokens,
    client_id: UUID,
    job_id: str,
    content: bytes,
    *,
    filename: str | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    params = {"filename": filename} if filename else {}
    return await api.post(
        f"/v1/jobs/{job_id}/documents",
        content=content,
        params=params,
        headers=tokens.client(client_id) | {"Content-Type": content_type},
    )


async def documents_of(sessions: SessionFactory, job_id: str) -> list[Document]:
    async with sessions() as session:
        query = select(Document).where(Document.job_id == UUID(job_id)).order_by(Document.id)
        return list(await session.scalars(query))


async def rendered(sessions: SessionFactory, document_id: str) -> None:
    async def done() -> bool:
        async with sessions() as session:
            document = await session.get(Document, UUID(document_id))
            return document is not None and document.rendered_at is not None

    await eventually(done, what="the pages rendered")


async def test_a_pdf_uploaded_as_the_body_is_stored_with_its_pages_rendered_and_its_words(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(api, tokens)
    pdf = invoice_pdf("INV-7")
    # The header says PNG; the bytes say PDF, and the bytes win.
    response = await upload(
        api, tokens, client_id, job["id"], pdf, filename="inv-7.pdf", content_type="image/png"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "inv-7.pdf"
    assert body["media_type"] == "application/pdf"
    assert body["size"] == len(pdf)
    assert body["pages"] == 2
    assert (store_dir / str(client_id) / body["sha256"] / "original").read_bytes() == pdf

    await rendered(sessions, body["id"])
    async with sessions() as session:
        query = select(DocumentPage).where(DocumentPage.document_id == UUID(body["id"]))
        pages = list(await session.scalars(query.order_by(DocumentPage.number)))
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].text is not None
    assert "Invoice INV-7" in pages[0].text
    words = pages[0].words or []
    assert [word["text"] for word in words] == ["Invoice", "INV-7"]
    left, top, right, bottom = words[0]["box"]
    assert 0 <= left < right <= 1
    assert 0 <= top < bottom <= 0.2, "near the top of the page"

    shown = await api.get(f"/v1/documents/{body['id']}", headers=tokens.client(client_id))
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert view["rendered_at"] is not None
    assert view["deleted_at"] is None
    first = view["pages"][0]
    assert (first["width"], first["height"]) == (pages[0].width, pages[0].height)
    picture = await api.get(first["image_url"])
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/webp"
    assert picture.content[:4] == b"RIFF"
    assert picture.content[8:12] == b"WEBP"
    assert "max-age=" in picture.headers["cache-control"]

    original = await api.get(f"/v1/documents/{body['id']}/file", headers=tokens.manager())
    assert original.status_code == 200
    assert original.content == pdf
    assert original.headers["content-type"] == "application/pdf"


async def test_a_multipart_upload_and_the_same_bytes_twice_are_stored_once(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(api, tokens)
    png = image("PNG")
    first = await api.post(
        f"/v1/jobs/{job['id']}/documents",
        files={"file": ("receipt.png", png, "image/png")},
        headers=tokens.client(client_id),
    )
    assert first.status_code == 201, first.text
    assert first.json()["media_type"] == "image/png"
    second = await upload(api, tokens, client_id, job["id"], png, filename="copy.png")
    assert second.status_code == 201, second.text
    assert second.json()["sha256"] == first.json()["sha256"]
    assert len(list((store_dir / str(client_id)).rglob("original"))) == 1


async def test_a_zip_becomes_one_document_per_file(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> None:
    client_id, job = await open_job(api, tokens)
    members = {
        "a/inv-1.pdf": invoice_pdf("1"),
        "inv-2.tiff": image("TIFF", frames=3),
        "inv-3.jpg": image("JPEG"),
        "inv-4.webp": image("WEBP"),
        "__MACOSX/._inv-1.pdf": b"resource fork",
    }
    response = await upload(
        api, tokens, client_id, job["id"], zipped(members), content_type="application/zip"
    )
    assert response.status_code == 201, response.text
    documents = response.json()["documents"]
    assert [(d["filename"], d["media_type"], d["pages"]) for d in documents] == [
        ("a/inv-1.pdf", "application/pdf", 2),
        ("inv-2.tiff", "image/tiff", 3),
        ("inv-3.jpg", "image/jpeg", 1),
        ("inv-4.webp", "image/webp", 1),
    ]
    assert len(await documents_of(sessions, job["id"])) == 4


BOMB = zipped({"bomb.pdf": b"%PDF-" + b"0" * 150_000}, compression=8)


@pytest.mark.parametrize(
    ("content", "content_type", "field", "says"),
    [
        (b"", "application/pdf", "x.pdf", "empty"),
        (b"hello, world", "text/plain", "x.pdf", "not a document"),
        (b"%PDF-1.7\n garbage", "application/pdf", "x.pdf", "corrupt"),
        (image("GIF"), "image/gif", "x.pdf", "GIF image is not accepted"),
        (image("PNG", size=(1200, 1000)), "image/png", "x.pdf", "decompression bomb"),
        (invoice_pdf("9", pages=6), "application/pdf", "x.pdf", "6 pages; the limit is 5"),
        (b"%PDF-" + b"0" * 200_001, "application/pdf", "x.pdf", "the limit is 200000"),
        (b"PK\x03\x04 not really", "application/zip", "body", "not a valid zip"),
        (
            zipped({"good.pdf": invoice_pdf("1"), "bad.pdf": b"%PDF-broken"}),
            "application/zip",
            "bad.pdf",
            "corrupt",
        ),
        (BOMB, "application/zip", "bomb.pdf", "zip bomb"),
    ],
    ids=[
        "empty",
        "text",
        "corrupt-pdf",
        "gif",
        "pixel-bomb",
        "too-many-pages",
        "too-large",
        "not-a-zip",
        "bad-member",
        "zip-bomb",
    ],
)
async def test_a_refused_upload_names_what_is_wrong_and_stores_nothing(
    api: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    store_dir: Path,
    content: bytes,
    content_type: str,
    field: str,
    says: str,
) -> None:
    client_id, job = await open_job(api, tokens)
    response = await upload(
        api, tokens, client_id, job["id"], content, filename="x.pdf", content_type=content_type
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert says in problem["detail"]
    assert problem["detail"].startswith("nothing was stored")
    assert await documents_of(sessions, job["id"]) == []
    assert not (store_dir / str(client_id)).exists()


async def test_a_password_protected_pdf_is_refused_saying_so(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, job = await open_job(api, tokens)
    response = await upload(
        api, tokens, client_id, job["id"], invoice_pdf("1", password="s3cret"), filename="l.pdf"
    )
    problem = assert_problem(response, 422)
    assert "password-protected" in problem["detail"]


async def test_an_upload_without_a_name_or_with_a_taken_one_is_refused(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> None:
    client_id, job = await open_job(api, tokens)
    nameless = await upload(api, tokens, client_id, job["id"], invoice_pdf("1"))
    assert error_fields(assert_problem(nameless, 422)) == ["filename"]
    first = await upload(api, tokens, client_id, job["id"], invoice_pdf("1"), filename="a.pdf")
    assert first.status_code == 201
    again = await upload(api, tokens, client_id, job["id"], invoice_pdf("2"), filename="a.pdf")
    assert "already has a document named a.pdf" in assert_problem(again, 409)["detail"]
    mixed = await upload(
        api, tokens, client_id, job["id"], zipped({"a.pdf": invoice_pdf("5")}),
        content_type="application/zip",
    )  # fmt: skip
    assert_problem(mixed, 409)
    assert len(await documents_of(sessions, job["id"])) == 1
    other = await register_client(api, tokens, "Someone else")
    foreign = await upload(api, tokens, other, job["id"], invoice_pdf("1"), filename="z.pdf")
    assert_problem(foreign, 404)


async def test_items_reference_documents_and_the_keyer_reads_them_only_while_holding_the_task(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> None:
    client_id, job = await open_job(api, tokens)
    uploaded = await upload(
        api, tokens, client_id, job["id"], invoice_pdf("7"), filename="inv-7.pdf"
    )
    document_id = uploaded.json()["id"]
    await rendered(sessions, document_id)
    csv = f"external_id,vendor,documents\ninv-7,Acme,inv-7.pdf; {document_id}\n"
    appended = await api.post(
        f"/v1/jobs/{job['id']}/items",
        content=csv,
        headers=tokens.client(client_id) | {"Content-Type": "text/csv"},
    )
    assert appended.status_code == 202, appended.text
    listed = await api.get(f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id))
    (item,) = listed.json()["data"]
    assert item["documents"] == [document_id, document_id]

    _keyer_id, keyer = await new_contractor(api, tokens)
    (task,) = await claim_tasks(api, keyer, job_id=job["id"])
    shown = task["documents"][0]
    assert (shown["id"], shown["filename"]) == (document_id, "inv-7.pdf")
    assert [page["number"] for page in shown["pages"]] == [1, 2]
    picture = await api.get(shown["pages"][1]["image_url"])
    assert picture.status_code == 200
    assert picture.content[8:12] == b"WEBP"
    assert (await api.get(f"/v1/documents/{document_id}", headers=keyer)).status_code == 200
    assert (await api.get(f"/v1/documents/{document_id}/file", headers=keyer)).status_code == 200

    _, stranger = await new_contractor(api, tokens)
    other_client = tokens.client(await register_client(api, tokens, "Not the owner"))
    for headers in (stranger, other_client):
        assert_problem(await api.get(f"/v1/documents/{document_id}", headers=headers), 404)
        assert_problem(await api.get(f"/v1/documents/{document_id}/file", headers=headers), 404)

    released = await api.post(f"/v1/tasks/{task['id']}/release", headers=keyer)
    assert released.status_code == 204
    assert_problem(await api.get(f"/v1/documents/{document_id}", headers=keyer), 404)


async def test_an_unknown_document_reference_is_refused_naming_the_line(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> None:
    client_id, job = await open_job(api, tokens)
    await upload(api, tokens, client_id, job["id"], invoice_pdf("1"), filename="inv-1.pdf")
    body = (
        '{"external_id": "a", "source": {}, "documents": ["inv-1.pdf"]}\n'
        '{"external_id": "b", "source": {}, "documents": ["inv-1.pdf", "inv-2.pdf"]}\n'
    )
    response = await api.post(
        f"/v1/jobs/{job['id']}/items",
        content=body,
        headers=tokens.client(client_id) | {"Content-Type": "application/x-ndjson"},
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["line 2: documents[1]"]
    assert "inv-2.pdf" in problem["errors"][0]["message"]
    listed = await api.get(f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id))
    assert listed.json()["data"] == []


async def test_a_page_link_altered_or_expired_gets_no_image(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> None:
    client_id, job = await open_job(api, tokens)
    uploaded = await upload(api, tokens, client_id, job["id"], image("PNG"), filename="p.png")
    document_id = UUID(uploaded.json()["id"])
    await rendered(sessions, str(document_id))
    links = PageLinks(SECRET.encode(), 900)
    good = links.url(document_id, 1, utcnow())
    assert (await api.get(good)).status_code == 200
    altered = good.replace("/pages/1?", "/pages/2?")
    assert "signature" in assert_problem(await api.get(altered), 403)["detail"]
    tampered = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    assert_problem(await api.get(tampered), 403)
    expired = links.url(document_id, 1, utcnow() - timedelta(hours=1))
    assert "expired" in assert_problem(await api.get(expired), 403)["detail"]
    foreign = PageLinks(b"another secret", 900).url(document_id, 1, utcnow())
    assert_problem(await api.get(foreign), 403)


async def test_documents_of_a_job_past_its_retention_are_deleted_and_say_so(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory, store_dir: Path
) -> None:
    from bpo_intake.service import documents

    client_id, job = await open_job(api, tokens)
    uploaded = await upload(api, tokens, client_id, job["id"], image("PNG"), filename="r.png")
    document_id = uploaded.json()["id"]
    await rendered(sessions, document_id)
    cancelled = await api.post(f"/v1/jobs/{job['id']}/cancel", headers=tokens.client(client_id))
    assert cancelled.status_code == 200, cancelled.text
    objects = open_store(store_dir.as_uri(), {})
    async with sessions() as session, session.begin():
        soon = await documents.delete_expired(session, objects, 90, utcnow())
    assert soon == 0, "not before its retention has run out"
    async with sessions() as session, session.begin():
        later = utcnow() + timedelta(days=91)
        assert await documents.delete_expired(session, objects, 90, later) >= 1
    shown = (await api.get(f"/v1/documents/{document_id}", headers=tokens.manager())).json()
    assert shown["deleted_at"] is not None
    assert shown["pages"] == []
    gone = await api.get(f"/v1/documents/{document_id}/file", headers=tokens.manager())
    assert "deleted" in assert_problem(gone, 404)["detail"]
    assert [path for path in (store_dir / str(client_id)).rglob("*") if path.is_file()] == []
    async with sessions() as session:
        count = select(func.count()).select_from(Document).where(Document.client_id == client_id)
        assert (await session.execute(count)).scalar_one() == 1, "the record stays"
