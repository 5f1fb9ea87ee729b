"""A document several items are keyed from goes once the last of them is erased, each erasure
of them on its own (items erased before keep their documents' ids, and named them for ever):
its bytes, page images, words and name; what a live item still names stays."""

import hashlib
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, assert_problem
from bpo_intake.models import DocumentPage
from bpo_intake.repository import extraction as extraction_repository

from .documents import invoice_pdf, open_job, rendered, upload


async def _uploaded(
    api: httpx.AsyncClient, tokens: Tokens, client_id: UUID, job_id: str, *names: str
) -> dict[str, dict[str, Any]]:
    """A document of each name (bytes of its own) uploaded to the job, rendered: by name."""
    made = {}
    for name in names:
        response = await upload(api, tokens, client_id, job_id, invoice_pdf(name), filename=name)
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return made


async def _items(
    api: httpx.AsyncClient, tokens: Tokens, client_id: UUID, job_id: str, **named: list[str]
) -> dict[str, str]:
    """An item of each external id, keyed from the documents of these names: ids by external
    id."""
    client, url = tokens.client(client_id), f"/v1/jobs/{job_id}/items"
    items = [{"external_id": key, "source": {}, "documents": names} for key, names in named.items()]
    assert (await api.post(url, json={"items": items}, headers=client)).status_code == 202
    listed = (await api.get(url, headers=client)).json()["data"]
    return {item["external_id"]: item["id"] for item in listed}


async def _erase(api: httpx.AsyncClient, tokens: Tokens, client_id: UUID, item_id: str) -> None:
    erased = await api.delete(f"/v1/items/{item_id}/data", headers=tokens.client(client_id))
    assert erased.status_code == 202, erased.text


async def _live(api: httpx.AsyncClient, tokens: Tokens, document: dict[str, Any]) -> list[str]:
    """What is left to read of the document: its name, its bytes and its pages, or nothing
    (its id as its name, no pages, its bytes 404 "deleted")."""
    shown = (await api.get(f"/v1/documents/{document['id']}", headers=tokens.manager())).json()
    file = await api.get(f"/v1/documents/{document['id']}/file", headers=tokens.manager())
    if shown["deleted_at"] is not None:
        assert (shown["filename"], shown["pages"]) == (document["id"], [])
        assert "deleted" in assert_problem(file, 404)["detail"]
        return []
    assert hashlib.sha256(file.content).hexdigest() == document["sha256"]
    return [shown["filename"], f"{len(shown['pages'])} pages"]


def _stored(store_dir: Path, client_id: UUID) -> list[str]:
    """The store's paths of the client's bytes, under the bytes' hash."""
    under = store_dir / str(client_id)
    return sorted(str(path.relative_to(under)) for path in under.rglob("*") if path.is_file())


async def test_a_document_two_items_share_goes_once_both_are_erased(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    shared = (await _uploaded(documents_api, tokens, client_id, job["id"], "receipts.pdf"))[
        "receipts.pdf"
    ]
    await rendered(documents_db, shared["id"])
    said = [{"text": "Erika Mustermann", "box": [0.1, 0.1, 0.3, 0.12]}]
    async with documents_db() as session, session.begin():
        await extraction_repository.set_page_words(
            session, UUID(shared["id"]), 1, "Erika Mustermann", said, utcnow()
        )
    ids = await _items(
        documents_api, tokens, client_id, job["id"], a=["receipts.pdf"], b=["receipts.pdf"]
    )

    await _erase(documents_api, tokens, client_id, ids["a"])
    assert await _live(documents_api, tokens, shared) == ["receipts.pdf", "2 pages"], "b's"

    await _erase(documents_api, tokens, client_id, ids["b"])
    assert await _live(documents_api, tokens, shared) == []
    assert _stored(store_dir, client_id) == []
    async with documents_db() as session:
        query = select(DocumentPage.text, DocumentPage.words).where(
            DocumentPage.document_id == UUID(shared["id"])
        )
        assert list(await session.execute(query)) == [(None, None), (None, None)]


async def test_documents_items_overlap_on_go_with_the_last_erased_and_a_live_items_stay(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    made = await _uploaded(documents_api, tokens, client_id, job["id"], "d.pdf", "e.pdf", "f.pdf")
    for document in made.values():
        await rendered(documents_db, document["id"])
    ids = await _items(
        documents_api, tokens, client_id, job["id"],
        a=["d.pdf", "e.pdf"], b=["e.pdf", "f.pdf"], c=["f.pdf"],
    )  # fmt: skip

    await _erase(documents_api, tokens, client_id, ids["a"])
    assert await _live(documents_api, tokens, made["d.pdf"]) == []
    assert await _live(documents_api, tokens, made["e.pdf"]) == ["e.pdf", "2 pages"], "b's"

    await _erase(documents_api, tokens, client_id, ids["b"])
    assert await _live(documents_api, tokens, made["e.pdf"]) == []
    assert await _live(documents_api, tokens, made["f.pdf"]) == ["f.pdf", "2 pages"], "c's"
    kept = made["f.pdf"]["sha256"]
    assert _stored(store_dir, client_id) == [
        f"{kept}/original",
        f"{kept}/page-1.webp",
        f"{kept}/page-2.webp",
    ]
