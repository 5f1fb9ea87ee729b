"""Documents: upload one, many in a zip, or refused naming what is wrong."""

import zipfile
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from bpo_common.contracts.intake import DocumentsAdded
from bpo_common.db import SessionFactory
from bpo_devtools.testing import (
    TestStack,
    Tokens,
    assert_problem,
    error_fields,
    outbox_events,
    serve,
)
from bpo_intake.app import create_app
from bpo_intake.models import DocumentPage
from bpo_intake.settings import Settings

from .conftest import register_client
from .documents import (
    corrupt_member,
    documents_of,
    image,
    invoice_pdf,
    open_job,
    pdf_claiming_pages,
    rendered,
    upload,
    zipped,
)


async def test_a_pdf_uploaded_as_the_body_is_stored_with_its_pages_rendered_and_its_words(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = invoice_pdf("INV-7")
    # The header says PNG; the bytes say PDF, and the bytes win.
    response = await upload(
        documents_api,
        tokens,
        client_id,
        job["id"],
        pdf,
        filename="inv-7.pdf",
        content_type="image/png",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "inv-7.pdf"
    assert body["media_type"] == "application/pdf"
    assert body["size"] == len(pdf)
    assert body["pages"] == 2
    assert (store_dir / str(client_id) / body["sha256"] / "original").read_bytes() == pdf

    await rendered(documents_db, body["id"])
    async with documents_db() as session:
        query = select(DocumentPage).where(DocumentPage.document_id == UUID(body["id"]))
        pages = list(await session.scalars(query.order_by(DocumentPage.number)))
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].text is not None
    assert "Invoice INV-7" in pages[0].text
    words = pages[0].words or []
    assert " ".join(word["text"] for word in words) == "Invoice INV-7 from Acme GmbH, Berlin"
    left, top, right, bottom = words[0]["box"]
    assert 0 <= left < right <= 1
    assert 0 <= top < bottom <= 0.2, "near the top of the page"

    shown = await documents_api.get(f"/v1/documents/{body['id']}", headers=tokens.client(client_id))
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert view["rendered_at"] is not None
    assert view["deleted_at"] is None
    first = view["pages"][0]
    assert (first["width"], first["height"]) == (pages[0].width, pages[0].height)
    picture = await documents_api.get(first["image_url"])
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/webp"
    assert picture.content[:4] == b"RIFF"
    assert picture.content[8:12] == b"WEBP"
    assert "max-age=" in picture.headers["cache-control"]

    original = await documents_api.get(f"/v1/documents/{body['id']}/file", headers=tokens.manager())
    assert original.status_code == 200
    assert original.content == pdf
    assert original.headers["content-type"] == "application/pdf"


async def test_a_multipart_upload_and_the_same_bytes_twice_are_stored_once(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    png = image("PNG")
    first = await documents_api.post(
        f"/v1/jobs/{job['id']}/documents",
        files={"file": ("領収書.png", png, "image/png")},
        headers=tokens.client(client_id),
    )
    assert first.status_code == 201, first.text
    assert first.json()["media_type"] == "image/png"
    download = await documents_api.get(
        f"/v1/documents/{first.json()['id']}/file", headers=tokens.client(client_id)
    )
    assert download.content == png
    assert (
        "filename*=UTF-8''%E9%A0%98%E5%8F%8E%E6%9B%B8.png"
        in (download.headers["content-disposition"])
    )
    second = await upload(documents_api, tokens, client_id, job["id"], png, filename="copy.png")
    assert second.status_code == 201, second.text
    assert second.json()["sha256"] == first.json()["sha256"]
    assert len(list((store_dir / str(client_id)).rglob("original"))) == 1


async def test_an_upload_repeated_with_its_idempotency_key_answers_as_the_first_did(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    stack: TestStack,
    store_dir: Path,
) -> None:
    # The client lost the first answer: its retry gets the document it made, not a 409,
    # though its multipart body comes with another boundary.
    client_id, job = await open_job(documents_api, tokens)
    png = image("PNG")
    headers = tokens.client(client_id) | {"Idempotency-Key": f"scan-{job['id']}"}

    async def post(name: str, body: bytes) -> httpx.Response:
        return await documents_api.post(
            f"/v1/jobs/{job['id']}/documents",
            files={"file": (name, body, "image/png")},
            headers=headers,
        )

    first = await post("scan.png", png)
    assert first.status_code == 201, first.text
    again = await post("scan.png", png)
    boundaries = {sent.request.headers["content-type"] for sent in (first, again)}
    assert len(boundaries) == 2, "another boundary"
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await post("other.png", image("PNG", size=(30, 30)))
    assert error_fields(assert_problem(other, 422)) == ["Idempotency-Key"]
    # Known by all its bytes before they are inspected: under limits lowered since (below its
    # size, its pixels), the retry still replays.
    stricter = stack.settings(Settings, "intake", document_store_url=store_dir.as_uri(),
                              document_max_pixels=10, document_max_bytes=10)  # fmt: skip
    async with serve(create_app(stricter)) as strict_api:
        late = await strict_api.post(
            f"/v1/jobs/{job['id']}/documents",
            files={"file": ("scan.png", png, "image/png")},
            headers=headers,
        )
    assert late.status_code == 201, late.text
    assert late.json() == first.json()
    assert [document.filename for document in await documents_of(documents_db, job["id"])] == [
        "scan.png"
    ]


async def test_a_zip_becomes_one_document_per_file(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    members = {
        "a/inv-1.pdf": invoice_pdf("1"),
        "inv-2.tiff": image("TIFF", frames=3),
        "inv-3.jpg": image("JPEG"),
        "inv-4.webp": image("WEBP"),
        "__MACOSX/._inv-1.pdf": b"resource fork",
    }
    response = await upload(
        documents_api, tokens, client_id, job["id"], zipped(members), content_type="application/zip"
    )
    assert response.status_code == 201, response.text
    documents = response.json()["documents"]
    assert [(d["filename"], d["media_type"], d["pages"]) for d in documents] == [
        ("a/inv-1.pdf", "application/pdf", 2),
        ("inv-2.tiff", "image/tiff", 3),
        ("inv-3.jpg", "image/jpeg", 1),
        ("inv-4.webp", "image/webp", 1),
    ]
    assert len(await documents_of(documents_db, job["id"])) == 4
    (event,) = await outbox_events(documents_db, DocumentsAdded.event_type, job_id=job["id"])
    assert (event.data["documents"], event.data["pages"]) == (4, 2 + 3 + 1 + 1)


BOMB = zipped({"bomb.pdf": b"%PDF-" + b"0" * 150_000}, compression=8)
EMPTY_PART = (
    b'--b1\r\nContent-Disposition: form-data; name="file"; filename="e.pdf"\r\n\r\n\r\n--b1--\r\n'
)


@pytest.mark.parametrize(
    ("content", "content_type", "field", "says"),
    [
        (b"", "application/pdf", "x.pdf", "empty"),
        (EMPTY_PART, "multipart/form-data; boundary=b1", "x.pdf", "the file is empty"),
        (zipped({"a.pdf": invoice_pdf("1"), "b.pdf": b""}), "application/zip", "b.pdf", "empty"),
        (b"hello, world", "text/plain", "x.pdf", "not a document"),
        (b"%PDF-1.7\n garbage", "application/pdf", "x.pdf", "corrupt"),
        (pdf_claiming_pages(3), "application/pdf", "x.pdf", "cannot read page 2"),
        (invoice_pdf("1", password="s3cret"), "application/pdf", "x.pdf", "password-protected"),
        (image("GIF"), "image/gif", "x.pdf", "GIF image is not accepted"),
        (image("PNG", size=(1200, 1000)), "image/png", "x.pdf", "decompression bomb"),
        (invoice_pdf("9", pages=6), "application/pdf", "x.pdf", "6 pages; the limit is 5"),
        (b"%PDF-" + b"0" * 200_001, "application/pdf", "x.pdf", "larger than the limit of 200000"),
        (b"PK\x03\x04 not really", "application/zip", "body", "not a valid zip"),
        (
            zipped({"good.pdf": invoice_pdf("1"), "bad.pdf": b"%PDF-broken"}),
            "application/zip",
            "bad.pdf",
            "corrupt",
        ),
        (BOMB, "application/zip", "bomb.pdf", "zip bomb"),
        (corrupt_member("a.pdf"), "application/zip", "a.pdf", "cannot be read"),
        (
            zipped({"b.pdf": invoice_pdf("1")}, compression=zipfile.ZIP_BZIP2),
            "application/zip",
            "b.pdf",
            "compressed other than deflated or stored",
        ),
        (
            zipped({"n" * 256 + ".pdf": invoice_pdf("1")}),
            "application/zip",
            "n" * 256 + ".pdf",
            "1 to 255 characters",
        ),
        (
            zipped({"0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b": invoice_pdf("1")}),
            "application/zip",
            "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
            "cannot be a document id",
        ),
    ],
    ids=[
        "empty",
        "empty-part",
        "empty-member",
        "text",
        "corrupt-pdf",
        "pages-missing",
        "password",
        "gif",
        "pixel-bomb",
        "too-many-pages",
        "too-large",
        "not-a-zip",
        "bad-member",
        "zip-bomb",
        "damaged-member",
        "bzip2-member",
        "long-member-name",
        "member-named-as-an-id",
    ],
)
async def test_a_refused_upload_names_what_is_wrong_and_stores_nothing(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    store_dir: Path,
    content: bytes,
    content_type: str,
    field: str,
    says: str,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    response = await upload(
        documents_api,
        tokens,
        client_id,
        job["id"],
        content,
        filename="x.pdf",
        content_type=content_type,
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert says in problem["detail"]
    assert problem["detail"].startswith("nothing was stored")
    assert await documents_of(documents_db, job["id"]) == []
    assert await outbox_events(documents_db, DocumentsAdded.event_type, job_id=job["id"]) == []
    assert not (store_dir / str(client_id)).exists()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"--b1\r\n<'\xc2\x95\r\nnot a part--b1--\r\n", "could not be read"),
        (b"--b1--\r\n", "missing, or not a file"),
        (
            b'--b1\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n1'
            b'\r\n--b1\r\nContent-Disposition: form-data; name="more"; filename="b.pdf"\r\n'
            b"\r\n2\r\n--b1--\r\n",
            "Too many files",
        ),
    ],
    ids=["garbled", "no part", "two files"],
)
async def test_a_multipart_body_that_cannot_be_read_is_refused_naming_the_part(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    body: bytes,
    says: str,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    multipart = "multipart/form-data; boundary=b1"
    response = await upload(
        documents_api, tokens, client_id, job["id"], body, content_type=multipart
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["file"]
    assert says in problem["detail"] + problem["errors"][0]["message"]
    assert "named file" in problem["detail"]
    assert await documents_of(documents_db, job["id"]) == []


async def test_a_part_whose_filename_cannot_be_stored_is_refused_naming_it(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    body = (
        b'--b1\r\nContent-Disposition: form-data; name="file"; filename="a\x00b.pdf"\r\n\r\n'
        + invoice_pdf("1")
        + b"\r\n--b1--\r\n"
    )
    multipart = "multipart/form-data; boundary=b1"
    response = await upload(
        documents_api, tokens, client_id, job["id"], body, content_type=multipart
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["a\ufffdb.pdf"]  # shown, as the name cannot be
    assert "a document's name contains a NUL character" in problem["errors"][0]["message"]
    assert await documents_of(documents_db, job["id"]) == []


async def test_an_upload_without_a_name_or_with_a_taken_one_is_refused(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    nameless = await upload(documents_api, tokens, client_id, job["id"], invoice_pdf("1"))
    assert error_fields(assert_problem(nameless, 422)) == ["filename"]
    first = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename="a.pdf"
    )
    assert first.status_code == 201
    again = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("2"), filename="a.pdf"
    )
    assert "already has a document named a.pdf" in assert_problem(again, 409)["detail"]
    mixed = await upload(
        documents_api, tokens, client_id, job["id"], zipped({"a.pdf": invoice_pdf("5")}),
        content_type="application/zip",
    )  # fmt: skip
    assert_problem(mixed, 409)
    assert len(await documents_of(documents_db, job["id"])) == 1
    other = await register_client(documents_api, tokens, "Someone else")
    foreign = await upload(
        documents_api, tokens, other, job["id"], invoice_pdf("1"), filename="z.pdf"
    )
    assert_problem(foreign, 404)


async def test_an_erased_items_document_is_no_longer_named_by_items_and_its_name_is_forgotten(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    made = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename="a.pdf"
    )
    assert made.status_code == 201, made.text
    items = {"items": [{"external_id": "x", "source": {}, "documents": ["a.pdf"]}]}
    url = f"/v1/jobs/{job['id']}/items"
    assert (await documents_api.post(url, json=items, headers=client)).status_code == 202
    (item,) = (await documents_api.get(url, headers=client)).json()["data"]
    erased = await documents_api.delete(f"/v1/items/{item['id']}/data", headers=client)
    assert erased.status_code == 202, erased.text

    # An item naming it now would be keyed from nothing; the erased item still lists it, by
    # its id alone (a name may be personal).
    refused = await documents_api.post(url, json=items, headers=client)
    assert "no document 'a.pdf' in this job" in str(assert_problem(refused, 422)["errors"])
    (item,) = (await documents_api.get(url, headers=client)).json()["data"]
    assert item["documents"] == [{"id": made.json()["id"], "filename": made.json()["id"]}]
    again = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename="a.pdf"
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] != made.json()["id"]
