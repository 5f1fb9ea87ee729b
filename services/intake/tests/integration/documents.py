"""Documents for the tests: PDFs written with fpdf2, images with Pillow, zips of them; a
client's open job to upload them to; and another store for an app's routes to use."""

import io
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI
from fpdf import FPDF
from obstore.store import ObjectStore
from PIL import Image
from playwright.async_api import Browser, Page, Route
from sqlalchemy import select

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.pdfs import pdf_of
from bpo_devtools.testing import Tokens, assert_problem, eventually
from bpo_intake.models import Document
from bpo_intake.routes.documents import document_store

from .browsing import Served, contractor, http_api, intercepted, script_errors, signed_in
from .conftest import create_job, register_client
from .keying import FIELDS, past


def invoice_pdf(number: str, pages: int = 2, password: str | None = None) -> bytes:
    """An invoice of `pages` A4 pages with a text layer (enough words that no OCR reads them):
    `Invoice <number> from Acme GmbH, Berlin` on the first; encrypted, to be opened with
    `password`, if one is given."""
    pdf = FPDF(format="A4")
    if password is not None:
        pdf.set_encryption(owner_password=password, user_password=password)
    pdf.set_font("helvetica", size=16)
    for page in range(1, pages + 1):
        pdf.add_page()
        first = f"Invoice {number} from Acme GmbH, Berlin"
        pdf.cell(text=first if page == 1 else f"Terms of payment, page {page} of {pages}")
    return bytes(pdf.output())


def pdf_claiming_pages(count: int) -> bytes:
    """A PDF whose page tree counts `count` pages and holds one."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    return pdf_of(objects)


def corrupt_member(name: str) -> bytes:
    """A zip whose one member's deflated bytes are damaged."""
    archive = bytearray(zipped({name: b"%PDF-1.4 " + bytes(range(256)) * 40}))
    start = 30 + len(name)  # past the member's local header
    for at in range(start, start + 20):
        archive[at] ^= 0xFF
    return bytes(archive)


def image(kind: str = "PNG", size: tuple[int, int] = (60, 40), frames: int = 1) -> bytes:
    pictures = [Image.new("RGB", size, (40 * n, 120, 200)) for n in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, kind, save_all=frames > 1, append_images=pictures[1:])
    return out.getvalue()


def zipped(members: Mapping[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


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


@dataclass(frozen=True)
class RenderedPdf:
    """A new client's job with one invoice PDF, its pages rendered."""

    client_id: UUID
    job: dict[str, Any]
    pdf: bytes
    # The document's bytes (`GET` it as a manager), and its first page's signed image link.
    file: str
    page: str


async def a_rendered_pdf(
    api: httpx.AsyncClient, sessions: SessionFactory, tokens: Tokens, number: str
) -> RenderedPdf:
    client_id, job = await open_job(api, tokens)
    pdf = invoice_pdf(number)
    made = await upload(api, tokens, client_id, job["id"], pdf, filename=f"{number}.pdf")
    document_id = made.json()["id"]
    await rendered(sessions, document_id)
    view = await api.get(f"/v1/documents/{document_id}", headers=tokens.manager())
    page = view.json()["pages"][0]["image_url"]
    return RenderedPdf(client_id, job, pdf, f"/v1/documents/{document_id}/file", page)


async def rendered(sessions: SessionFactory, document_id: str) -> None:
    async def done() -> bool:
        async with sessions() as session:
            document = await session.get(Document, UUID(document_id))
            return document is not None and document.rendered_at is not None

    await eventually(done, what="the pages rendered")


async def a_job_with_a_document(
    served: Served, tokens: Tokens, job: dict[str, Any], filename: str, pdf: bytes
) -> dict[str, Any]:
    """A new client's job (`job`: its body) with one item keyed from one PDF, its pages
    rendered; returns the job, the document's id and the item's id."""
    async with await http_api(served) as api:
        registered = await api.post("/v1/clients", json={"name": "Acme"}, headers=tokens.manager())
        client = tokens.client(UUID(registered.json()["id"]))
        created = await api.post("/v1/jobs", json=job, headers=client)
        assert created.status_code == 201, created.text
        made = created.json()
        uploaded = await api.post(
            f"/v1/jobs/{made['id']}/documents",
            params={"filename": filename},
            content=pdf,
            headers=client | {"Content-Type": "application/pdf"},
        )
        document_id = uploaded.json()["id"]
        external_id = filename.removesuffix(".pdf")
        items = {"items": [{"external_id": external_id, "source": {}, "documents": [filename]}]}
        appended = await api.post(f"/v1/jobs/{made['id']}/items", json=items, headers=client)
        assert appended.status_code == 202, appended.text
        listed = await api.get(f"/v1/jobs/{made['id']}/items", headers=client)
    await rendered(served.sessions, document_id)
    return {"job": made, "document_id": document_id, "item_id": listed.json()["data"][0]["id"]}


@contextmanager
def storing_in(app: FastAPI, store: ObjectStore) -> Iterator[None]:
    """The app's routes use `store` for the block (its workers keep their own)."""

    async def given() -> ObjectStore:
        return store

    app.dependency_overrides[document_store] = given
    try:
        yield
    finally:
        del app.dependency_overrides[document_store]


def assert_storage_away(response: httpx.Response) -> None:
    problem = assert_problem(response, 503)
    assert problem["title"] == "Service unavailable"
    assert "storage is unavailable" in problem["detail"]
    assert response.headers["retry-after"] == "1"


# The workbench's form in the page tests: two fields, each with its label.
LABELLED = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "total", "type": "decimal", "label": "Total"},
]


async def invoices_for_a_skill(
    served: Served, tokens: Tokens, *numbers: str, **job: Any
) -> tuple[str, list[dict[str, Any]]]:
    """A skill of the test's own, and a job for each invoice number, of one item keyed once
    from that invoice's PDF, due before other tests' work and taken only by keyers with the
    skill (`job`: more of each job's body): the skill, and the jobs as made."""
    skill = f"keyer-{new_id().hex[-8:]}"
    body = {"work_type": "invoice", "fields": LABELLED, "qc": {"mode": "single"},
            "due_at": "1990-01-04T00:00:00Z", "required_skills": [skill], **job}  # fmt: skip
    made = [
        await a_job_with_a_document(
            served, tokens, body, f"{number.lower()}.pdf", invoice_pdf(number)
        )
        for number in numbers
    ]
    return skill, made


async def a_keyer_with_a_task(
    served: Served, browser: Browser, tokens: Tokens, number: str = "INV-4", **job: Any
) -> tuple[Page, dict[str, Any], str]:
    """A keyer signed in to /work, before their claim, and a job of the invoice `number` for
    them alone (see `invoices_for_a_skill`): the page, the job as made, and their token."""
    skill, (made,) = await invoices_for_a_skill(served, tokens, number, **job)
    _, token = await contractor(served, tokens, skill)
    return await signed_in(browser, served, token), made, token


async def keying_routed(
    served: Served, browser: Browser, tokens: Tokens
) -> tuple[Page, dict[str, Any], list[str]]:
    """A keyer's page with its requests routed through the test (`intercepted`), their task
    claimed and open: the page, the job as made, and the page's script errors from now on."""
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    failures = script_errors(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    return page, made, failures


def pre_filled_claims(made: dict[str, Any], **values: str) -> Callable[[Route], Awaitable[None]]:
    """The page's claims answered with these values suggested for the task of `made` (a job as
    made), as a machine's pre-fill: for `page.route`."""

    async def pre_filled(route: Route) -> None:
        answer = await route.fetch()
        claimed: dict[str, Any] = await answer.json()
        where = {"confidence": 0.95, "document_id": made["document_id"], "page": 1, "boxes": []}
        suggested = {name: {"value": value, **where} for name, value in values.items()}
        claimed["tasks"][0]["suggestions"] = suggested
        await route.fulfill(response=answer, json=claimed)

    return pre_filled
