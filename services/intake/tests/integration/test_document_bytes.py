"""Documents' bytes and the transactions that name them: bytes an upload wrote go when its
transaction does not commit, unless a document already had them; an erasure's go only once
it has committed; bytes no document has (their upload's process died) go once an hour old. A
transaction is made to fail as it commits by a deferred constraint trigger of the test's
own."""

import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem
from bpo_intake.models import Document, Erasure, Item
from bpo_intake.repository.objects import open_store
from bpo_intake.service import orphans

from .documents import a_rendered_pdf, documents_of, invoice_pdf, open_job, upload, zipped


@asynccontextmanager
async def refused_at_commit(
    sessions: SessionFactory, table: str, job_id: str
) -> AsyncIterator[None]:
    """Until the block ends, a transaction that adds a row of the job to `table` fails as it
    commits, after all it did before."""
    name = f"refuse_{UUID(job_id).hex}"
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await session.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON {table}"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                f" WHEN (NEW.job_id = '{job_id}') EXECUTE FUNCTION {name}()"
            )
        )
    try:
        yield
    finally:
        async with sessions() as session, session.begin():
            await session.execute(text(f"DROP TRIGGER {name} ON {table}"))
            await session.execute(text(f"DROP FUNCTION {name}()"))


def original(store_dir: Path, client_id: UUID, content: bytes) -> Path:
    return store_dir / str(client_id) / hashlib.sha256(content).hexdigest() / "original"


async def a_job_with_kept_pdf(
    api: httpx.AsyncClient, tokens: Tokens, number: str
) -> tuple[UUID, dict[str, Any], bytes]:
    """A new client's open job with one invoice PDF, kept.pdf, uploaded: its bytes."""
    client_id, job = await open_job(api, tokens)
    kept = invoice_pdf(number)
    first = await upload(api, tokens, client_id, job["id"], kept, filename="kept.pdf")
    assert first.status_code == 201, first.text
    return client_id, job, kept


async def test_bytes_an_upload_wrote_go_when_its_transaction_does_not_commit(
    documents_api: httpx.AsyncClient,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
) -> None:
    client_id, job, kept = await a_job_with_kept_pdf(documents_api, tokens, "KEPT-1")
    new = invoice_pdf("NEW-1")

    # The same bytes again beside new ones: both written, then the commit fails.
    body = zipped({"again.pdf": kept, "new.pdf": new})
    async with refused_at_commit(documents_db, Document.__tablename__, job["id"]):
        failed = await upload(
            documents_api, tokens, client_id, job["id"], body, content_type="application/zip"
        )
    assert failed.status_code == 500, failed.text
    assert [document.filename for document in await documents_of(documents_db, job["id"])] == [
        "kept.pdf"
    ]
    assert not original(store_dir, client_id, new).exists(), "no row names them"
    assert original(store_dir, client_id, kept).read_bytes() == kept, "kept.pdf has them"


async def test_an_erasure_deletes_the_documents_bytes_only_once_it_has_committed(
    documents_api: httpx.AsyncClient,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
) -> None:
    made = await a_rendered_pdf(documents_api, documents_db, tokens, "ERASED-1")
    client_id, job, pdf, file, page = made.client_id, made.job, made.pdf, made.file, made.page
    erase = f"/v1/jobs/{job['id']}/data"

    async with refused_at_commit(documents_db, Erasure.__tablename__, job["id"]):
        failed = await documents_api.delete(erase, headers=tokens.client(client_id))
    assert failed.status_code == 500, failed.text
    assert (await documents_api.get(file, headers=tokens.manager())).content == pdf
    assert (await documents_api.get(page)).status_code == 200

    erased = await documents_api.delete(erase, headers=tokens.client(client_id))
    assert erased.status_code == 202, erased.text
    gone = await documents_api.get(file, headers=tokens.manager())
    assert "deleted" in assert_problem(gone, 404)["detail"]
    assert [path for path in (store_dir / str(client_id)).rglob("*") if path.is_file()] == []


async def test_bytes_no_document_has_go_once_an_hour_old_and_no_others(
    documents_api: httpx.AsyncClient,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
) -> None:
    client_id, _, kept = await a_job_with_kept_pdf(documents_api, tokens, "KEPT-2")
    # Bytes of uploads whose process died after writing them, before its commit and sweep.
    left, young = invoice_pdf("LEFT-1"), invoice_pdf("YOUNG-1")
    for content in (left, young):
        path = original(store_dir, client_id, content)
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    an_hour_ago = time.time() - 3700
    for content in (left, kept):
        os.utime(original(store_dir, client_id, content), (an_hour_ago, an_hour_ago))

    store = open_store(store_dir.as_uri(), {})
    assert await orphans.sweep_orphans(documents_db, store, utcnow()) >= 1

    assert not original(store_dir, client_id, left).exists()
    assert original(store_dir, client_id, young).exists(), "an upload may be writing them"
    assert original(store_dir, client_id, kept).read_bytes() == kept, "kept.pdf has them"


async def test_an_erased_items_document_goes_though_a_control_copied_from_it_is_in_its_job(
    documents_api: httpx.AsyncClient,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
) -> None:
    client_id, job, _ = await a_job_with_kept_pdf(documents_api, tokens, "COPIED-1")
    client = tokens.client(client_id)
    url = f"/v1/jobs/{job['id']}/items"
    items = {"items": [{"external_id": "x", "source": {}, "documents": ["kept.pdf"]}]}
    assert (await documents_api.post(url, json=items, headers=client)).status_code == 202
    (listed,) = (await documents_api.get(url, headers=client)).json()["data"]
    # A control copied from it into its own job (as a qualification's set, or a pool drawn
    # from the job itself, makes one), keyed from the same document.
    async with documents_db() as session, session.begin():
        item = await session.get(Item, UUID(listed["id"]))
        assert item is not None
        columns = {column.key: getattr(item, column.key) for column in Item.__table__.columns}
        session.add(Item(**columns | {"id": new_id(), "external_id": None, "control_of": item.id}))

    erased = await documents_api.delete(f"/v1/items/{listed['id']}/data", headers=client)
    assert erased.status_code == 202, erased.text
    (document,) = listed["documents"]
    file = f"/v1/documents/{document['id']}/file"
    gone = await documents_api.get(file, headers=tokens.manager())
    assert "deleted" in assert_problem(gone, 404)["detail"]
    assert [path for path in (store_dir / str(client_id)).rglob("*") if path.is_file()] == []
