"""Documents in an S3 bucket: the same upload, rendering and reading, against a real
S3-speaking server (moto's, in a process of its own) instead of the local filesystem; and an
upload the server refuses."""

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import obstore
import pytest
from fastapi import FastAPI

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.servers import free_port
from bpo_devtools.testing import TestStack, Tokens, serve
from bpo_intake.app import create_app
from bpo_intake.repository.objects import open_store
from bpo_intake.service import orphans
from bpo_intake.settings import Settings

from .documents import (
    assert_storage_away,
    documents_of,
    invoice_pdf,
    open_job,
    rendered,
    storing_in,
    upload,
)

BUCKET = "bpo-documents"
CREDENTIALS = {"region": "us-east-1", "access_key_id": "test", "secret_access_key": "test"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"the S3 server ended with {process.returncode}")
            try:
                if httpx.put(f"{endpoint}/{BUCKET}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("the S3 server did not start")
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def s3_app(stack: TestStack, s3_endpoint: str) -> FastAPI:
    options = {"endpoint": s3_endpoint, "allow_http": "true", **CREDENTIALS}
    settings = stack.settings(
        Settings,
        "intake",
        document_store_url=f"s3://{BUCKET}/scans",
        document_store_options=options,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
async def s3_api(s3_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(s3_app) as client:
        yield client


async def test_documents_go_to_the_bucket_and_come_back(
    s3_api: httpx.AsyncClient, s3_app: FastAPI, s3_endpoint: str, tokens: Tokens
) -> None:
    sessions: SessionFactory = s3_app.state.runtime.sessions
    client_id, job = await open_job(s3_api, tokens)
    pdf = invoice_pdf("S3-1")
    response = await upload(s3_api, tokens, client_id, job["id"], pdf, filename="s3.pdf")
    assert response.status_code == 201, response.text
    document = response.json()
    # Read back through a store of its own on the bucket's root, not the app's.
    bucket = open_store(
        f"s3://{BUCKET}", {"endpoint": s3_endpoint, "allow_http": "true", **CREDENTIALS}
    )
    key = f"scans/{client_id}/{document['sha256']}"
    stored = await obstore.get_async(bucket, f"{key}/original")
    assert bytes(await stored.bytes_async()) == pdf

    await rendered(sessions, document["id"])
    page = await obstore.head_async(bucket, f"{key}/page-2.webp")
    assert page["size"] > 0
    view = (await s3_api.get(f"/v1/documents/{document['id']}", headers=tokens.manager())).json()
    picture = await s3_api.get(view["pages"][1]["image_url"])
    assert picture.status_code == 200
    assert picture.content[8:12] == b"WEBP"
    original = await s3_api.get(f"/v1/documents/{document['id']}/file", headers=tokens.manager())
    assert original.content == pdf


async def test_an_upload_the_server_refuses_answers_503_and_stores_nothing(
    s3_api: httpx.AsyncClient, s3_app: FastAPI, s3_endpoint: str, tokens: Tokens
) -> None:
    sessions: SessionFactory = s3_app.state.runtime.sessions
    client_id, job = await open_job(s3_api, tokens)
    options = {"endpoint": s3_endpoint, "allow_http": "true", **CREDENTIALS}
    # The server answers every write into a bucket it does not have with NoSuchBucket.
    with storing_in(s3_app, open_store("s3://no-such-bucket", options)):
        refused = await upload(
            s3_api, tokens, client_id, job["id"], invoice_pdf("S3-2"), filename="s3.pdf"
        )
    assert_storage_away(refused)
    assert await documents_of(sessions, job["id"]) == []


async def test_bytes_no_document_has_are_found_in_the_bucket_and_deleted(
    s3_api: httpx.AsyncClient, s3_app: FastAPI, s3_endpoint: str, tokens: Tokens
) -> None:
    sessions: SessionFactory = s3_app.state.runtime.sessions
    client_id, job = await open_job(s3_api, tokens)
    kept = await upload(s3_api, tokens, client_id, job["id"], invoice_pdf("S3-3"), filename="k.pdf")
    assert kept.status_code == 201, kept.text
    options = {"endpoint": s3_endpoint, "allow_http": "true", **CREDENTIALS}
    store = open_store(f"s3://{BUCKET}/scans", options)
    left = f"{client_id}/{'0' * 64}/original"  # an upload's, whose process died before its sweep
    await obstore.put_async(store, left, b"%PDF-")

    # Two hours on, both are old enough to go if no document has them.
    assert await orphans.sweep_orphans(sessions, store, utcnow() + timedelta(hours=2)) >= 1

    with pytest.raises(FileNotFoundError):
        await obstore.head_async(store, left)
    head = await obstore.head_async(store, f"{client_id}/{kept.json()['sha256']}/original")
    assert head["size"] == kept.json()["size"]


async def test_a_bucket_that_is_not_there_is_a_store_away_not_a_missing_document(
    s3_api: httpx.AsyncClient, s3_app: FastAPI, s3_endpoint: str, tokens: Tokens
) -> None:
    client_id, job = await open_job(s3_api, tokens)
    pdf = invoice_pdf("S3-4")
    uploaded = await upload(s3_api, tokens, client_id, job["id"], pdf, filename="b.pdf")
    assert uploaded.status_code == 201, uploaded.text
    file = f"/v1/documents/{uploaded.json()['id']}/file"
    options = {"endpoint": s3_endpoint, "allow_http": "true", **CREDENTIALS}

    # The server answers a read from a bucket it does not have with 404, as for a missing key.
    with storing_in(s3_app, open_store("s3://no-such-bucket", options)):
        away = await s3_api.get(file, headers=tokens.manager())
    assert_storage_away(away)
    assert (await s3_api.get(file, headers=tokens.manager())).content == pdf
