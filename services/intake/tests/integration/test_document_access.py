"""Documents once stored: items keyed from them, who may read them, page images through
signed links that expire, and their deletion when the job's retention runs out."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys, is_sealed
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
    outbox_events,
)
from bpo_intake.domain.links import PageLinks
from bpo_intake.models import Document, DocumentPage, Qualification
from bpo_intake.repository import documents as documents_repository
from bpo_intake.repository import extraction as extraction_repository
from bpo_intake.repository.objects import open_store
from bpo_intake.service import decisions, documents, rendering

from .conftest import DOCUMENT_LINK_SECRET, opened_events, register_client
from .documents import image, invoice_pdf, open_job, rendered, upload
from .keying import claim_tasks, new_contractor


async def test_items_reference_documents_and_the_keyer_reads_them_only_while_holding_the_task(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    data_keys: DataKeys,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    uploaded = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("7"), filename="inv-7.pdf"
    )
    document_id = uploaded.json()["id"]
    await rendered(documents_db, document_id)
    csv = f"external_id,vendor,documents\ninv-7,Acme,inv-7.pdf; {document_id}\n"
    appended = await documents_api.post(
        f"/v1/jobs/{job['id']}/items",
        content=csv,
        headers=tokens.client(client_id) | {"Content-Type": "text/csv"},
    )
    assert appended.status_code == 202, appended.text
    listed = await documents_api.get(
        f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id)
    )
    (item,) = listed.json()["data"]
    named = {"id": document_id, "filename": "inv-7.pdf"}
    assert item["documents"] == [named, named]

    _keyer_id, keyer = await new_contractor(documents_api, tokens)
    (task,) = await claim_tasks(documents_api, keyer, job_id=job["id"])
    shown = task["documents"][0]
    assert (shown["id"], shown["filename"]) == (document_id, "inv-7.pdf")
    assert [page["number"] for page in shown["pages"]] == [1, 2]
    picture = await documents_api.get(shown["pages"][1]["image_url"])
    assert picture.status_code == 200
    assert picture.content[8:12] == b"WEBP"
    assert picture.headers["cache-control"] == "private, no-store", "none kept past the lease"
    assert (
        await documents_api.get(f"/v1/documents/{document_id}", headers=keyer)
    ).status_code == 200
    assert (
        await documents_api.get(f"/v1/documents/{document_id}/file", headers=keyer)
    ).status_code == 200

    _, stranger = await new_contractor(documents_api, tokens)
    other_client = tokens.client(await register_client(documents_api, tokens, "Not the owner"))
    for headers in (stranger, other_client):
        assert_problem(
            await documents_api.get(f"/v1/documents/{document_id}", headers=headers), 404
        )
        assert_problem(
            await documents_api.get(f"/v1/documents/{document_id}/file", headers=headers), 404
        )

    data = {"invoice_number": "INV-7", "total": "7"}
    submitted = await documents_api.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer
    )
    assert submitted.status_code == 202, submitted.text
    subject = "bpo.intake.task.submitted"
    (event,) = await outbox_events(documents_db, subject, task_id=task["id"])
    assert is_sealed(event.data["documents"]), "a name may be personal: it travels sealed"
    (event,) = await opened_events(documents_db, data_keys, subject, task_id=task["id"])
    assert event.data["documents"] == ["inv-7.pdf", "inv-7.pdf"]  # named twice, as the item does
    assert_problem(await documents_api.get(f"/v1/documents/{document_id}", headers=keyer), 404)
    # The page links the task gave close with its lease, long before they expire.
    for link in (shown["pages"][1]["image_url"], shown["pages"][1]["words_url"]):
        closed = assert_problem(await documents_api.get(link), 403)
        assert "no longer hold a task on this document" in closed["detail"]
    client_view = await documents_api.get(
        f"/v1/documents/{document_id}", headers=tokens.client(client_id)
    )
    clients_link = client_view.json()["pages"][1]["image_url"]
    clients_picture = await documents_api.get(clients_link)
    assert clients_picture.status_code == 200, "the client's stay open"
    assert "immutable" in clients_picture.headers["cache-control"]


async def test_an_unknown_document_reference_is_refused_naming_the_line(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename="inv-1.pdf"
    )
    body = (
        '{"external_id": "a", "source": {}, "documents": ["inv-1.pdf"]}\n'
        '{"external_id": "b", "source": {}, "documents": ["inv-1.pdf", "inv-2.pdf"]}\n'
    )
    response = await documents_api.post(
        f"/v1/jobs/{job['id']}/items",
        content=body,
        headers=tokens.client(client_id) | {"Content-Type": "application/x-ndjson"},
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["line 2: documents[1]"]
    assert "inv-2.pdf" in problem["errors"][0]["message"]
    listed = await documents_api.get(
        f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id)
    )
    assert listed.json()["data"] == []


async def test_an_item_names_a_document_by_its_id_in_capitals_or_braces_unless_one_is_so_named(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    """As a client's system writes ids: SQL Server's uniqueidentifier is in capitals."""
    client_id, job = await open_job(documents_api, tokens)
    made = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename="inv-1.pdf"
    )
    document_id = made.json()["id"]
    capitals, braced = document_id.upper(), "{" + document_id.replace("-", "") + "}"
    items = {"items": [{"source": {}, "documents": [capitals, braced]}]}
    appended = await documents_api.post(
        f"/v1/jobs/{job['id']}/items", json=items, headers=tokens.client(client_id)
    )
    assert appended.json() == {"accepted": 1}, appended.text
    # No upload may be named as an id reads, in any of these forms.
    for name in (capitals, braced, document_id.replace("-", "")):
        refused = await upload(
            documents_api, tokens, client_id, job["id"], invoice_pdf("2"), filename=name
        )
        problem = assert_problem(refused, 422)
        assert error_fields(problem) == [name]
        assert "cannot be a document id" in problem["detail"]
    # A document named so before that was refused is that one.
    named = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("2"), filename="old.pdf"
    )
    async with documents_db() as session, session.begin():
        (await session.get_one(Document, UUID(named.json()["id"]))).filename = capitals
    again = {"items": [{"source": {}, "documents": [capitals]}]}
    appended = await documents_api.post(
        f"/v1/jobs/{job['id']}/items", json=again, headers=tokens.client(client_id)
    )
    assert appended.json() == {"accepted": 1}, appended.text

    listed = await documents_api.get(
        f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id)
    )
    first, second = listed.json()["data"]
    assert first["documents"] == [{"id": document_id, "filename": "inv-1.pdf"}] * 2
    assert second["documents"] == [{"id": named.json()["id"], "filename": capitals}]


async def _a_rendered_image(
    api: httpx.AsyncClient, tokens: Tokens, sessions: SessionFactory
) -> tuple[UUID, dict[str, Any], UUID]:
    """A new client's open job with an image uploaded and rendered: (client, job, document)."""
    client_id, job = await open_job(api, tokens)
    uploaded = await upload(api, tokens, client_id, job["id"], image("PNG"), filename="p.png")
    document_id = UUID(uploaded.json()["id"])
    await rendered(sessions, str(document_id))
    return client_id, job, document_id


async def test_a_page_link_altered_or_expired_gets_no_image(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    _, _, document_id = await _a_rendered_image(documents_api, tokens, documents_db)
    links = PageLinks(DOCUMENT_LINK_SECRET.encode(), 900)
    good = links.url(document_id, 1, utcnow())
    assert (await documents_api.get(good)).status_code == 200
    altered = good.replace("/pages/1?", "/pages/2?")
    assert "signature" in assert_problem(await documents_api.get(altered), 403)["detail"]
    tampered = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    assert_problem(await documents_api.get(tampered), 403)
    expired = links.url(document_id, 1, utcnow() - timedelta(hours=1))
    assert "expired" in assert_problem(await documents_api.get(expired), 403)["detail"]
    foreign = PageLinks(b"another secret", 900).url(document_id, 1, utcnow())
    assert_problem(await documents_api.get(foreign), 403)


async def test_documents_of_a_job_past_its_retention_are_deleted_and_say_so(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job, document_id = await _a_rendered_image(documents_api, tokens, documents_db)
    cancelled = await documents_api.post(
        f"/v1/jobs/{job['id']}/cancel", headers=tokens.client(client_id)
    )
    assert cancelled.status_code == 200, cancelled.text
    said = [{"text": "Erika Mustermann", "box": [0.1, 0.1, 0.3, 0.12]}]
    released: list[documents.StoredBytes] = []
    async with documents_db() as session, session.begin():
        await extraction_repository.set_page_words(
            session, document_id, 1, "Erika Mustermann", said, utcnow()
        )
        soon = await documents.delete_expired(session, 90, utcnow(), released)
    assert soon == 0, "not before its retention has run out"
    async with documents_db() as session, session.begin():
        later = utcnow() + timedelta(days=91)
        assert await documents.delete_expired(session, 90, later, released) >= 1
    await documents.sweep(documents_db, open_store(store_dir.as_uri(), {}), released)
    shown = (
        await documents_api.get(f"/v1/documents/{document_id}", headers=tokens.manager())
    ).json()
    assert shown["deleted_at"] is not None
    assert shown["pages"] == []
    gone = await documents_api.get(f"/v1/documents/{document_id}/file", headers=tokens.manager())
    assert "deleted" in assert_problem(gone, 404)["detail"]
    assert [path for path in (store_dir / str(client_id)).rglob("*") if path.is_file()] == []
    async with documents_db() as session:
        count = select(func.count()).select_from(Document).where(Document.client_id == client_id)
        assert (await session.execute(count)).scalar_one() == 1, "the record stays"
        pages = select(DocumentPage.text, DocumentPage.words).where(
            DocumentPage.document_id == document_id
        )
        assert list(await session.execute(pages)) == [(None, None)], "what the page said too"


async def test_results_name_the_documents_each_item_was_keyed_from(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    data_keys: DataKeys,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    for name in ("a.pdf", "b.png"):
        content = invoice_pdf("1") if name.endswith("pdf") else image("PNG")
        await upload(documents_api, tokens, client_id, job["id"], content, filename=name)
    items = {"items": [{"external_id": "x", "source": {}, "documents": ["b.png", "a.pdf"]}]}
    await documents_api.post(f"/v1/jobs/{job['id']}/items", json=items, headers=client)
    (item,) = (await documents_api.get(f"/v1/jobs/{job['id']}/items", headers=client)).json()[
        "data"
    ]
    result = {"invoice_number": "INV-1", "total": "5", "iban": None}
    async with documents_db() as session, session.begin():
        await decisions.decide_items(
            session,
            [
                validation.ItemAccepted(
                    item_id=UUID(item["id"]),
                    job_id=UUID(job["id"]),
                    client_id=client_id,
                    result=result,
                    decided_at=utcnow(),
                )
            ],
            data_keys,
        )
    path = f"/v1/jobs/{job['id']}/results"
    (record,) = (await documents_api.get(path, headers=client)).json()
    assert (record["documents"], record["data"]) == (["b.png", "a.pdf"], result)
    table = await documents_api.get(path, headers=client | {"Accept": "text/csv"})
    header, row = table.text.splitlines()
    assert header == "item_id,external_id,documents,invoice_number,total,iban"
    assert row == f"{item['id']},x,b.png;a.pdf,INV-1,5,"


async def lost_documents(
    sessions: SessionFactory, job: dict[str, Any], client_id: UUID, count: int, age: timedelta
) -> list[UUID]:
    """Documents of the job, uploaded `age` ago, whose bytes the store does not have."""
    ids = [new_id() for _ in range(count)]
    row = {"job_id": UUID(job["id"]), "client_id": client_id, "media_type": "application/pdf",
           "size": 10, "pages": 1, "created_at": utcnow() - age, "rendered_at": None,
           "deleted_at": None}  # fmt: skip
    rows = [
        row | {"id": document_id, "filename": f"lost-{n}.pdf", "sha256": f"{n:064x}"}
        for n, document_id in enumerate(ids)
    ]
    pages = [
        {"document_id": i, "number": 1, "width": 10, "height": 10, "text": None, "words": None}
        for i in ids
    ]
    async with sessions() as session, session.begin():
        await documents_repository.add_documents(session, rows, pages)
    return ids


async def test_a_document_whose_bytes_are_gone_is_marked_rendered_and_its_pages_answer_404(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    # Uploaded long enough ago that its bytes are no longer awaited.
    (document_id,) = await lost_documents(documents_db, job, client_id, 1, rendering.BYTES_AWAITED)
    await rendered(documents_db, str(document_id))
    shown = await documents_api.get(f"/v1/documents/{document_id}", headers=tokens.manager())
    (only,) = shown.json()["pages"]
    assert_problem(await documents_api.get(only["image_url"]), 404)


async def test_new_documents_whose_bytes_are_not_there_yet_wait_and_hold_up_no_other(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    waiting = await lost_documents(
        documents_db, job, client_id, rendering.RENDER_BATCH + 2, timedelta(0)
    )
    uploaded = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("AFTER"), filename="after.pdf"
    )
    assert uploaded.status_code == 201, uploaded.text

    await rendered(documents_db, uploaded.json()["id"])
    async with documents_db() as session:
        query = select(Document).where(Document.id.in_(waiting))
        assert [d.rendered_at for d in await session.scalars(query)] == [None] * len(waiting)


async def test_documents_of_a_qualifications_set_outlive_their_jobs_retention(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job, document_id = await _a_rendered_image(documents_api, tokens, documents_db)
    async with documents_db() as session, session.begin():
        session.add(
            Qualification(
                work_type=f"set-{new_id().hex[-8:]}",
                job_id=UUID(job["id"]),
                pass_mark=Decimal("0.9"),
                retry_after_hours=24,
                updated_at=utcnow(),
            )
        )
    client = tokens.client(client_id)
    assert (await documents_api.post(f"/v1/jobs/{job['id']}/cancel", headers=client)).is_success
    async with documents_db() as session, session.begin():
        later = utcnow() + timedelta(days=91)
        await documents.delete_expired(session, 90, later, [])
        kept = await session.get(Document, document_id)
    assert kept is not None
    assert kept.deleted_at is None, "its copies are keyed from it"


async def test_a_page_or_file_the_store_lacks_answers_404_naming_the_document_not_its_client(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    uploaded = await upload(
        documents_api, tokens, client_id, job["id"], invoice_pdf("8"), filename="inv-8.pdf"
    )
    document = uploaded.json()
    await rendered(documents_db, document["id"])
    # As the renderer leaves a document it could not draw: rendered, without page images.
    for page in (store_dir / str(client_id) / document["sha256"]).glob("page-*.webp"):
        page.unlink()
    item = {"external_id": "inv-8", "source": {}, "documents": ["inv-8.pdf"]}
    appended = await documents_api.post(
        f"/v1/jobs/{job['id']}/items", json={"items": [item]}, headers=tokens.client(client_id)
    )
    assert appended.status_code == 202, appended.text
    _keyer_id, keyer = await new_contractor(documents_api, tokens)
    (task,) = await claim_tasks(documents_api, keyer, job_id=job["id"])

    page = await documents_api.get(task["documents"][0]["pages"][0]["image_url"])
    # And a store that lost the document's own bytes says so of the document, to the client too.
    (store_dir / str(client_id) / document["sha256"] / "original").unlink()
    url = f"/v1/documents/{document['id']}/file"
    file = await documents_api.get(url, headers=tokens.client(client_id))

    assert assert_problem(page, 404)["detail"] == (
        f"no image of page 1 of document {document['id']}: it could not be drawn"
    )
    assert assert_problem(file, 404)["detail"] == (
        f"the file of document {document['id']} is not in the document store"
    )
    for answer in (page, file):
        assert str(client_id) not in answer.text
        assert document["sha256"] not in answer.text
