"""intake_0028: the names of documents erased before erasures forgot them are forgotten (and
the stream's pass runs again for them); the names of documents no erasure deleted stay."""

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, run_upgrade
from bpo_intake.models import Document, Erasure

from .documents import invoice_pdf, open_job, upload

MIGRATION = (
    Path(__file__).parents[2]
    / "src/bpo_intake/migrations/versions/20261217_erased_document_names.py"
)


async def test_names_erased_before_are_forgotten_and_the_others_kept(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    ids = {}
    for name in ("gone.pdf", "kept.pdf"):
        made = await upload(
            documents_api, tokens, client_id, job["id"], invoice_pdf("1"), filename=name
        )
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
    url = f"/v1/jobs/{job['id']}/items"
    items: list[dict[str, Any]] = [
        {"external_id": name, "source": {}, "documents": [name]}
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
    # As an erasure before this release left it: the document deleted, its name kept, the
    # stream's events said to be emptied.
    async with documents_db() as session, session.begin():
        named = update(Document).where(Document.id == ids["gone.pdf"]).values(filename="gone.pdf")
        await session.execute(named)
        done = update(Erasure).where(Erasure.job_id == job["id"]).values(stream_erased_at=utcnow())
        await session.execute(done)

    await run_upgrade(documents_db, MIGRATION)

    async with documents_db() as session:
        query = select(Document.id, Document.filename).where(Document.job_id == job["id"])
        names = {str(document_id): name for document_id, name in await session.execute(query)}
        stream = select(Erasure.stream_erased_at).where(Erasure.job_id == job["id"])
        again = list((await session.execute(stream)).scalars())
    assert names == {ids["gone.pdf"]: ids["gone.pdf"], ids["kept.pdf"]: "kept.pdf"}
    assert again == [None], "the stream's pass runs again: its events named the document"
