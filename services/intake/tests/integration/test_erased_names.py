"""An erased document's name: forgotten where no other document of its job is named after its
id; and intake_0028, which forgets the names erasures before it left and keeps the names of
documents no erasure deleted, one a kept item shares among them."""

from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, run_upgrade
from bpo_intake.models import Document

from .documents import invoice_pdf, open_job, upload

MIGRATION = (
    Path(__file__).parents[2]
    / "src/bpo_intake/migrations/versions/20261217_erased_document_names.py"
)


async def _uploaded(
    api: httpx.AsyncClient, tokens: Tokens, client_id: UUID, job_id: str, *names: str
) -> dict[str, str]:
    """A document of each name uploaded to the job: their ids by name."""
    ids = {}
    for name in names:
        made = await upload(api, tokens, client_id, job_id, invoice_pdf("1"), filename=name)
        assert made.status_code == 201, made.text
        ids[name] = str(made.json()["id"])
    return ids


async def test_names_erased_before_are_forgotten_and_the_others_kept(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    files = ("gone.pdf", "kept.pdf", "shared.pdf")
    ids = await _uploaded(documents_api, tokens, client_id, job["id"], *files)
    url = f"/v1/jobs/{job['id']}/items"
    items: list[dict[str, Any]] = [
        {"external_id": name, "source": {}, "documents": [name, "shared.pdf"]}
        for name in ("gone.pdf", "kept.pdf")
    ]
    assert (await documents_api.post(url, json={"items": items}, headers=client)).is_success
    listed = {
        i["external_id"]: i for i in (await documents_api.get(url, headers=client)).json()["data"]
    }
    erased = await documents_api.delete(
        f"/v1/items/{listed['gone.pdf']['id']}/data", headers=client
    )
    assert erased.status_code == 202, erased.text
    # As an erasure before this release left it: the document deleted, its name kept; the
    # document the kept item shares deleted later, by the documents' retention.
    async with documents_db() as session, session.begin():
        named = update(Document).where(Document.id == ids["gone.pdf"]).values(filename="gone.pdf")
        await session.execute(named)
        expired = update(Document).where(Document.id == ids["shared.pdf"])
        await session.execute(expired.values(deleted_at=utcnow()))

    await run_upgrade(documents_db, MIGRATION)

    async with documents_db() as session:
        query = select(Document.id, Document.filename).where(Document.job_id == job["id"])
        names = {str(document_id): name for document_id, name in await session.execute(query)}
    assert names == {
        ids["gone.pdf"]: ids["gone.pdf"],
        ids["kept.pdf"]: "kept.pdf",
        ids["shared.pdf"]: "shared.pdf",
    }


async def test_a_document_named_after_anothers_id_does_not_stop_its_erasure(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    ids = await _uploaded(documents_api, tokens, client_id, job["id"], "a.pdf", "b.pdf")
    # Named before uploads refused such names: b.pdf is called after a.pdf's id.
    async with documents_db() as session, session.begin():
        renamed = update(Document).where(Document.id == ids["b.pdf"])
        await session.execute(renamed.values(filename=ids["a.pdf"]))
    url = f"/v1/jobs/{job['id']}/items"
    item = {"external_id": "a", "source": {}, "documents": ["a.pdf"]}
    assert (await documents_api.post(url, json={"items": [item]}, headers=client)).is_success
    (listed,) = (await documents_api.get(url, headers=client)).json()["data"]

    erased = await documents_api.delete(f"/v1/items/{listed['id']}/data", headers=client)

    assert erased.status_code == 202, erased.text
    async with documents_db() as session:
        query = select(Document.id, Document.filename).where(Document.job_id == job["id"])
        names = {str(document_id): name for document_id, name in await session.execute(query)}
    assert names == {ids["a.pdf"]: "a.pdf", ids["b.pdf"]: ids["a.pdf"]}
