"""Uploads as clients' tools send them: a PDF with bytes before its header, names a CSV could
not name again, a zip however it comes, damaged or not, and names the job already has or the
zip repeats (found in one pass however many files it holds)."""

import struct
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from bpo_common.db import SessionFactory
from bpo_common.errors import Invalid
from bpo_devtools.testing import Tokens, assert_problem, error_fields
from bpo_intake.domain.documents import Description, Inspected, MediaType, PageSize
from bpo_intake.repository.objects import open_store
from bpo_intake.service import documents

from .documents import documents_of, image, invoice_pdf, open_job, rendered, upload, zipped


async def test_a_pdf_with_a_byte_order_mark_before_its_header_is_stored_and_rendered(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = b"\xef\xbb\xbf" + invoice_pdf("BOM-1")
    response = await upload(documents_api, tokens, client_id, job["id"], pdf, filename="bom.pdf")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["media_type"], body["pages"]) == ("application/pdf", 2)
    await rendered(documents_db, body["id"])
    view = await documents_api.get(f"/v1/documents/{body['id']}", headers=tokens.manager())
    picture = await documents_api.get(view.json()["pages"][0]["image_url"])
    assert picture.status_code == 200, picture.text
    assert picture.content[8:12] == b"WEBP"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a;b.pdf", "cannot hold ';'"),
        (" a.pdf", "cannot begin or end with white space"),
        ("a.pdf ", "cannot begin or end with white space"),
    ],
    ids=["semicolon", "leading-space", "trailing-space"],
)
@pytest.mark.parametrize("sent_as", ["body", "multipart", "zip"])
async def test_a_name_a_csv_could_not_name_again_is_refused_naming_the_file(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    name: str,
    says: str,
    sent_as: str,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf, url = invoice_pdf("1"), f"/v1/jobs/{job['id']}/documents"
    if sent_as == "body":
        response = await upload(documents_api, tokens, client_id, job["id"], pdf, filename=name)
    elif sent_as == "multipart":
        files = {"file": (name, pdf, "application/pdf")}
        response = await documents_api.post(url, files=files, headers=tokens.client(client_id))
    else:
        response = await upload(
            documents_api, tokens, client_id, job["id"], zipped({"ok.pdf": pdf, name: pdf}),
            content_type="application/zip",
        )  # fmt: skip
    problem = assert_problem(response, 422)
    assert error_fields(problem) == [name]
    assert says in problem["errors"][0]["message"]
    assert problem["detail"] == f"nothing was stored: {name}: {problem['errors'][0]['message']}"
    assert await documents_of(documents_db, job["id"]) == []


async def test_a_zip_whose_names_the_job_has_is_refused_naming_each_of_them(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    first = {name: invoice_pdf(name) for name in ("a.pdf", "b.pdf", "c.pdf")}
    made = await upload(
        documents_api, tokens, client_id, job["id"], zipped(first), content_type="application/zip"
    )
    assert made.status_code == 201, made.text
    again = zipped({**first, "new.pdf": invoice_pdf("n")})
    refused = await upload(
        documents_api, tokens, client_id, job["id"], again, content_type="application/zip"
    )
    problem = assert_problem(refused, 409)
    assert error_fields(problem) == ["a.pdf", "b.pdf", "c.pdf"]
    assert {error["message"] for error in problem["errors"]} == {
        "the job already has a document of this name"
    }
    assert problem["detail"] == (
        "nothing was stored: the job already has a document named a.pdf (and 2 more: see errors)"
    )
    assert len(await documents_of(documents_db, job["id"])) == 3


@pytest.mark.parametrize("sent_as", ["multipart", "octet-stream"])
async def test_a_zip_sent_as_a_part_or_an_untyped_body_becomes_one_document_per_file(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, sent_as: str
) -> None:
    # As `curl -F file=@docs.zip` sends it, or `--data-binary @docs.zip` without a type.
    client_id, job = await open_job(documents_api, tokens)
    archive = zipped({"a/inv-1.pdf": invoice_pdf("1"), "inv-2.png": image("PNG")})
    if sent_as == "multipart":
        response = await documents_api.post(
            f"/v1/jobs/{job['id']}/documents",
            files={"file": ("docs.zip", archive, "application/octet-stream")},
            headers=tokens.client(client_id),
        )
    else:
        response = await upload(documents_api, tokens, client_id, job["id"], archive)
    assert response.status_code == 201, response.text
    documents = response.json()["documents"]
    assert [(d["filename"], d["media_type"]) for d in documents] == [
        ("a/inv-1.pdf", "application/pdf"),
        ("inv-2.png", "image/png"),
    ]
    stored = await documents_of(documents_db, job["id"])
    assert sorted(document.filename for document in stored) == ["a/inv-1.pdf", "inv-2.png"]


async def test_an_office_file_that_is_a_zip_inside_is_refused_under_its_own_name(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    report = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    response = await documents_api.post(
        f"/v1/jobs/{job['id']}/documents",
        files={"file": ("report.docx", report, "application/octet-stream")},
        headers=tokens.client(client_id),
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["report.docx"]
    assert "[Content_Types].xml" not in response.text
    assert await documents_of(documents_db, job["id"]) == []


def zip_needing_version(version: int) -> bytes:
    """A zip whose one file's central entry says it needs `version` (as 64, for 6.4) to be
    extracted."""
    archive = bytearray(zipped({"a.pdf": invoice_pdf("1")}))
    entry = archive.rfind(b"PK\x01\x02")
    archive[entry + 6 : entry + 8] = struct.pack("<H", version)
    return bytes(archive)


def zip_with_a_nameless_file() -> bytes:
    """A zip whose second file's name begins with a NUL, which zipfile reads as no name."""
    archive = bytearray(zipped({"a.pdf": invoice_pdf("1"), "b.pdf": invoice_pdf("2")}))
    entry = archive.rfind(b"PK\x01\x02")
    archive[entry + 46] = 0
    return bytes(archive)


@pytest.mark.parametrize(
    ("archive", "says"),
    [
        (zip_needing_version(64), "the body is not a valid zip: zip file version 6.4"),
        (zip_with_a_nameless_file(), "the zip's file 2 has no name"),
    ],
    ids=["version-6.4", "nameless-file"],
)
async def test_a_zip_zipfile_cannot_read_is_refused_naming_the_body_and_nothing_is_stored(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    store_dir: Path,
    archive: bytes,
    says: str,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    response = await upload(
        documents_api, tokens, client_id, job["id"], archive, content_type="application/zip"
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["body"]
    assert problem["detail"] == f"nothing was stored: body: {says}"
    assert await documents_of(documents_db, job["id"]) == []
    assert not (store_dir / str(client_id)).exists(), "no byte stored"


async def test_a_name_the_zip_repeats_is_refused_by_name_and_nothing_is_stored(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = invoice_pdf("1")
    described = Description(MediaType.PDF, "0" * 64, [PageSize(1240, 1754)])
    names = [f"scans/{number:05d}.pdf" for number in range(20)] + ["scans/00007.pdf"]
    files = [Inspected.of(name, pdf, described) for name in names]
    store = open_store(store_dir.as_uri(), {})

    with pytest.raises(Invalid) as refused:
        async with documents_db() as session, session.begin():
            await documents.add_documents(session, store, UUID(job["id"]), client_id, files, [])

    assert refused.value.detail == "nothing was stored: scans/00007.pdf appears more than once"
    assert [(error.field, error.message) for error in refused.value.errors] == [
        ("scans/00007.pdf", "appears more than once in the zip")
    ]
    assert await documents_of(documents_db, job["id"]) == []
