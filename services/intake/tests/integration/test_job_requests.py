"""A job request repeated with its Idempotency-Key, and bodies over the size limit."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, update

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.tables import idempotency_key
from bpo_devtools.testing import (
    TestStack,
    Tokens,
    assert_problem,
    error_fields,
    serve,
)
from bpo_intake.app import create_app
from bpo_intake.settings import Settings

from .conftest import count_jobs, create_job, job_body, register_client, scan_items, stored_items

# A new client's id, and its headers with a fresh Idempotency-Key.
KeyedClient = tuple[UUID, dict[str, str]]


@pytest.fixture
async def keyed_client(intake: httpx.AsyncClient, tokens: Tokens) -> KeyedClient:
    client_id = await register_client(intake, tokens)
    return client_id, {**tokens.client(client_id), "Idempotency-Key": f"upload-{new_id()}"}


async def test_replaying_a_job_with_the_same_key_and_body_returns_the_first_job(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_client: KeyedClient
) -> None:
    client_id, headers = keyed_client
    body = job_body(items=scan_items(2))

    first = await intake.post("/v1/jobs", json=body, headers=headers)
    replay = await intake.post("/v1/jobs", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await count_jobs(intake_db, client_id) == 1
    assert len(await stored_items(intake_db, UUID(first.json()["id"]))) == 2


async def test_same_key_with_a_different_body_is_rejected_and_creates_nothing(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_client: KeyedClient
) -> None:
    client_id, headers = keyed_client
    await intake.post("/v1/jobs", json=job_body(priority=10), headers=headers)

    response = await intake.post("/v1/jobs", json=job_body(priority=90), headers=headers)

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert problem["detail"] == (
        "this Idempotency-Key was already used with a different request body"
    )
    assert await count_jobs(intake_db, client_id) == 1


async def test_a_key_kept_longer_than_its_hours_is_a_new_request_though_not_yet_pruned(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_client: KeyedClient
) -> None:
    client_id, headers = keyed_client
    first = await intake.post("/v1/jobs", json=job_body(priority=10), headers=headers)
    async with intake_db() as session, session.begin():
        await session.execute(
            update(idempotency_key)
            .where(idempotency_key.c.key == headers["Idempotency-Key"])
            .values(created_at=func.now() - timedelta(hours=25))
        )

    later = job_body(priority=90)
    again = await intake.post("/v1/jobs", json=later, headers=headers)
    replayed = await intake.post("/v1/jobs", json=later, headers=headers)

    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"]
    assert (replayed.headers["Idempotent-Replayed"], replayed.json()) == ("true", again.json())
    assert await count_jobs(intake_db, client_id) == 2


async def test_the_same_key_from_another_client_is_another_request(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    alice, bob = [await register_client(intake, tokens, name) for name in ("Alice Co", "Bob Co")]
    key = f"upload-{new_id()}"
    body = job_body()

    alices = await intake.post(
        "/v1/jobs", json=body, headers={**tokens.client(alice), "Idempotency-Key": key}
    )
    bobs = await intake.post(
        "/v1/jobs", json=body, headers={**tokens.client(bob), "Idempotency-Key": key}
    )

    assert alices.status_code == bobs.status_code == 201
    assert "Idempotent-Replayed" not in bobs.headers
    assert bobs.json()["client_id"] == str(bob)
    assert bobs.json()["id"] != alices.json()["id"]
    assert await count_jobs(intake_db, alice) == await count_jobs(intake_db, bob) == 1


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_empty_or_overlong_idempotency_key_is_rejected(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, key: str
) -> None:
    client_id = await register_client(intake, tokens)

    response = await intake.post(
        "/v1/jobs", json=job_body(), headers={**tokens.client(client_id), "Idempotency-Key": key}
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert await count_jobs(intake_db, client_id) == 0


async def test_two_concurrent_requests_with_the_same_key_create_one_job(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_client: KeyedClient
) -> None:
    client_id, headers = keyed_client
    body = job_body(items=scan_items(50))

    # httpx's ASGI transport does not serialize requests: the two interleave at every await
    # (seen: 201 and 409). Whether the loser gets a 409 or a replay is up to timing.
    responses = await asyncio.gather(
        intake.post("/v1/jobs", json=body, headers=headers),
        intake.post("/v1/jobs", json=body, headers=headers),
    )

    assert all(response.status_code < 500 for response in responses), [
        response.text for response in responses
    ]
    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([201, 201], [201, 409]), statuses
    created = [
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert "still being processed" in assert_problem(response, 409)["detail"]
        else:
            assert response.json() == created[0].json()
    assert await count_jobs(intake_db, client_id) == 1


async def test_request_whose_key_is_still_being_processed_gets_409_and_may_retry(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_client: KeyedClient
) -> None:
    client_id, headers = keyed_client
    key = headers["Idempotency-Key"]
    # Hold the lock a first request on this key would hold, exactly as bpo_common.idempotency
    # takes it, so the second request meets it whatever the transport's scheduling.
    async with intake_db() as session, session.begin():
        lock = func.pg_try_advisory_xact_lock(
            func.hashtextextended(f"client:{client_id}\n{key}", 0)
        )
        assert await session.scalar(select(lock)) is True

        busy = await intake.post("/v1/jobs", json=job_body(), headers=headers)

        problem = assert_problem(busy, 409)
        assert problem["detail"] == (
            "a request with this Idempotency-Key is still being processed; retry later"
        )
    assert await count_jobs(intake_db, client_id) == 0

    retried = await intake.post("/v1/jobs", json=job_body(), headers=headers)

    assert retried.status_code == 201, retried.text
    assert await count_jobs(intake_db, client_id) == 1


@pytest.fixture
async def small_intake(stack: TestStack) -> AsyncIterator[httpx.AsyncClient]:
    """A second intake app that accepts request bodies of at most 1000 bytes."""
    async with serve(create_app(stack.settings(Settings, "intake", max_body_bytes=1000))) as client:
        yield client


async def test_body_over_the_configured_limit_is_refused_with_413_and_stores_nothing(
    intake: httpx.AsyncClient,
    small_intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
) -> None:
    client_id = await register_client(intake, tokens)
    headers = tokens.client(client_id)
    big = job_body(items=[{"source": {"text": "x" * 2000}}])

    refused = await small_intake.post("/v1/jobs", json=big, headers=headers)
    accepted = await small_intake.post("/v1/jobs", json=job_body(), headers=headers)

    problem = assert_problem(refused, 413)
    assert problem["detail"] == "the request body is larger than the limit of 1000 bytes"
    assert accepted.status_code == 201, accepted.text
    assert await count_jobs(intake_db, client_id) == 1


async def test_streamed_body_over_the_limit_without_content_length_is_refused_with_413(
    intake: httpx.AsyncClient,
    small_intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
) -> None:
    client_id = await register_client(intake, tokens)
    payload = httpx.Request("POST", "/", json=job_body(items=[{"source": {"text": "x" * 2000}}]))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload.content), 500):
            yield payload.content[start : start + 500]

    refused = await small_intake.post(
        "/v1/jobs",
        content=chunks(),
        headers={**tokens.client(client_id), "Content-Type": "application/json"},
    )

    assert "content-length" not in refused.request.headers
    problem = assert_problem(refused, 413)
    assert problem["detail"] == "the request body is larger than the limit of 1000 bytes"
    assert await count_jobs(intake_db, client_id) == 0


async def test_a_streamed_multipart_document_over_the_limit_is_refused_with_413(
    intake: httpx.AsyncClient, small_intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)
    upload = httpx.Request("POST", "/", files={"file": ("scan.png", b"\x89PNG" + b"x" * 3000)})
    upload.read()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(upload.content), 500):
            yield upload.content[start : start + 500]

    refused = await small_intake.post(
        f"/v1/jobs/{job['id']}/documents",
        content=chunks(),
        headers={**tokens.client(client_id), "Content-Type": upload.headers["Content-Type"]},
    )

    problem = assert_problem(refused, 413)
    assert problem["detail"] == "the request body is larger than the limit of 1000 bytes"


@pytest.mark.parametrize("name", ["item_id", "external_id", "documents", "line"])
async def test_a_field_named_as_an_items_own_column_is_refused_naming_it(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, name: str
) -> None:
    client_id = await register_client(intake, tokens)
    body = job_body()
    body["fields"] = [*body["fields"], {"name": name, "type": "string"}]

    response = await intake.post("/v1/jobs", json=body, headers=tokens.client(client_id))

    (error,) = assert_problem(response, 422)["errors"]
    assert error["field"] == "fields[3].name"
    assert error["message"].startswith(f'"{name}" is a column of every item in CSV results')
    assert await count_jobs(intake_db, client_id) == 0
