"""Documents while their store is out of reach: an upload and a read answer 503 with
Retry-After and store nothing, and go through again once the store is back. The store is
one nobody listens at, passed to the routes in place of the settings' for one test only."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from obstore.store import ObjectStore

from bpo_common.contracts.intake import DocumentsAdded
from bpo_common.db import SessionFactory
from bpo_devtools.servers import free_port
from bpo_devtools.testing import Tokens, outbox_events
from bpo_intake.repository.objects import open_store

from .documents import (
    assert_storage_away,
    documents_of,
    invoice_pdf,
    open_job,
    rendered,
    storing_in,
    upload,
)

CREDENTIALS = {"region": "us-east-1", "access_key_id": "test", "secret_access_key": "test"}


@pytest.fixture(scope="module")
def away() -> ObjectStore:
    """An S3 store at a port no server listens on."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    return open_store(
        "s3://bpo-documents", {"endpoint": endpoint, "allow_http": "true", **CREDENTIALS}
    )


async def test_an_upload_the_store_cannot_take_answers_503_and_stores_nothing(
    documents_api: httpx.AsyncClient,
    documents_app: FastAPI,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
    away: ObjectStore,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = invoice_pdf("AWAY-1")
    with storing_in(documents_app, away):
        refused = await upload(documents_api, tokens, client_id, job["id"], pdf, filename="a.pdf")
    assert_storage_away(refused)
    assert await documents_of(documents_db, job["id"]) == []
    assert await outbox_events(documents_db, DocumentsAdded.event_type, job_id=job["id"]) == []

    again = await upload(documents_api, tokens, client_id, job["id"], pdf, filename="a.pdf")
    assert again.status_code == 201, "the name was not taken by the upload that failed"
    assert (store_dir / str(client_id) / again.json()["sha256"] / "original").read_bytes() == pdf


async def test_a_document_and_its_pages_read_while_the_store_is_away_answer_503(
    documents_api: httpx.AsyncClient,
    documents_app: FastAPI,
    documents_db: SessionFactory,
    tokens: Tokens,
    away: ObjectStore,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = invoice_pdf("AWAY-2")
    made = await upload(documents_api, tokens, client_id, job["id"], pdf, filename="b.pdf")
    document_id = made.json()["id"]
    await rendered(documents_db, document_id)
    view = await documents_api.get(f"/v1/documents/{document_id}", headers=tokens.manager())
    page = view.json()["pages"][0]["image_url"]
    file = f"/v1/documents/{document_id}/file"

    with storing_in(documents_app, away):
        assert_storage_away(await documents_api.get(file, headers=tokens.manager()))
        assert_storage_away(await documents_api.get(page))
    assert (await documents_api.get(file, headers=tokens.manager())).content == pdf
    assert (await documents_api.get(page)).status_code == 200
