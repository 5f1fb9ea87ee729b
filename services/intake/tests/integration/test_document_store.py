"""Documents while their store is out of reach: an upload and a read answer 503 with
Retry-After and store nothing, and go through again once the store is back. The store is
one nobody listens at, passed to the routes in place of the settings' for one test only."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from obstore.store import ObjectStore

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DocumentsAdded
from bpo_common.db import SessionFactory
from bpo_devtools.servers import free_port
from bpo_devtools.testing import Tokens, outbox_events
from bpo_intake.repository.objects import open_store
from bpo_intake.service import documents

from .documents import (
    a_rendered_pdf,
    assert_storage_away,
    documents_of,
    invoice_pdf,
    open_job,
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
    made = await a_rendered_pdf(documents_api, documents_db, tokens, "AWAY-2")
    pdf, file, page = made.pdf, made.file, made.page

    with storing_in(documents_app, away):
        assert_storage_away(await documents_api.get(file, headers=tokens.manager()))
        assert_storage_away(await documents_api.get(page))
    assert (await documents_api.get(file, headers=tokens.manager())).content == pdf
    assert (await documents_api.get(page)).status_code == 200


async def test_an_erasure_while_the_store_is_away_is_done_and_its_bytes_are_swept_later(
    documents_api: httpx.AsyncClient,
    documents_app: FastAPI,
    documents_db: SessionFactory,
    tokens: Tokens,
    store_dir: Path,
    away: ObjectStore,
) -> None:
    made = await a_rendered_pdf(documents_api, documents_db, tokens, "AWAY-3")
    erase = f"/v1/jobs/{made.job['id']}/data"
    with storing_in(documents_app, away):
        erased = await documents_api.delete(erase, headers=tokens.client(made.client_id))
    assert erased.status_code == 202, erased.text
    left = [path for path in (store_dir / str(made.client_id)).rglob("*") if path.is_file()]
    assert left, "the store was away: its bytes are still there"
    (document,) = await documents_of(documents_db, made.job["id"])
    assert (document.deleted_at is not None, document.swept_at) == (True, None)

    # The retention pass, a while later, with the store back.
    later = utcnow() + documents.SWEEP_AFTER
    store = documents.document_store(documents_app.state.runtime.settings)
    while await documents.sweep_left(documents_db, store, later) == documents.RETENTION_BATCH:
        pass
    assert [path for path in (store_dir / str(made.client_id)).rglob("*") if path.is_file()] == []
    (document,) = await documents_of(documents_db, made.job["id"])
    assert document.swept_at is not None


class _Failing(BaseHTTPRequestHandler):
    """A store's server that answers every request 503, counting them."""

    asked: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        self.asked.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


async def test_a_store_that_answers_errors_is_tried_again_a_few_times_then_the_upload_is_a_503(
    documents_api: httpx.AsyncClient,
    documents_app: FastAPI,
    documents_db: SessionFactory,
    tokens: Tokens,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    failing = open_store(
        "s3://bpo-documents",
        {"endpoint": f"http://127.0.0.1:{server.server_port}", "allow_http": "true", **CREDENTIALS},
    )
    client_id, job = await open_job(documents_api, tokens)
    try:
        with storing_in(documents_app, failing):
            refused = await upload(
                documents_api, tokens, client_id, job["id"], invoice_pdf("ERR-1"), filename="e.pdf"
            )
    finally:
        server.shutdown()
    assert_storage_away(refused)
    # Once and 3 times again (repository.objects.RETRIES), not the S3 client's 10.
    assert len(_Failing.asked) == 4
    assert await documents_of(documents_db, job["id"]) == []
