"""A client's items a minute: a bulk request spends as many items as it carries, whether in a
new job's body or streamed onto an open job, and a request past the quota stores nothing."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, Tokens, assert_problem, serve
from bpo_intake.app import create_app
from bpo_intake.settings import Settings

from .appending import NDJSON, in_chunks, item_count, ndjson_body
from .conftest import job_body, register_client, scan_items

ITEMS_PER_MINUTE = 10


@pytest.fixture(scope="module")
def limited_app(stack: TestStack) -> FastAPI:
    return create_app(
        stack.settings(Settings, "intake", rate_limit_items_per_minute=ITEMS_PER_MINUTE)
    )


@pytest.fixture(scope="module")
async def limited(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(limited_app) as client:
        yield client


@pytest.fixture(scope="module")
def limited_db(limited_app: FastAPI, limited: httpx.AsyncClient) -> SessionFactory:
    sessions: SessionFactory = limited_app.state.runtime.sessions
    return sessions


async def test_n_items_spend_n_of_the_clients_quota_and_past_it_nothing_is_stored(
    limited: httpx.AsyncClient, limited_db: SessionFactory, tokens: Tokens
) -> None:
    client = tokens.client(await register_client(limited, tokens))
    created = await limited.post("/v1/jobs", json=job_body(items=scan_items(4)), headers=client)
    assert created.status_code == 201, created.text
    assert '"items";r=6;' in created.headers["RateLimit"]
    append = f"/v1/jobs/{created.json()['id']}/items"

    seven = ndjson_body(scan_items(7))
    refused = await limited.post(append, content=in_chunks(seven, 40), headers=client | NDJSON)

    body = assert_problem(refused, 429)
    assert body["detail"].startswith("this client may send 10 items a minute on this server")
    assert int(refused.headers["Retry-After"]) >= 1
    assert '"items";r=' in refused.headers["RateLimit"]
    assert await item_count(limited_db, created.json()["id"]) == 4, "nothing of it was stored"


async def test_one_clients_items_leave_anothers_quota_whole(
    limited: httpx.AsyncClient, tokens: Tokens
) -> None:
    first = tokens.client(await register_client(limited, tokens, "First"))
    second = tokens.client(await register_client(limited, tokens, "Second"))
    full = job_body(items=scan_items(ITEMS_PER_MINUTE))
    assert (await limited.post("/v1/jobs", json=full, headers=first)).status_code == 201
    assert_problem(
        await limited.post("/v1/jobs", json=job_body(items=scan_items(1)), headers=first), 429
    )

    created = await limited.post("/v1/jobs", json=job_body(), headers=second)
    appended = await limited.post(
        f"/v1/jobs/{created.json()['id']}/items",
        content=ndjson_body(scan_items(ITEMS_PER_MINUTE)),
        headers=second | NDJSON,
    )
    assert appended.json() == {"accepted": ITEMS_PER_MINUTE}
    assert '"items";r=0;' in appended.headers["RateLimit"]


async def test_an_append_larger_than_the_quota_goes_through_when_nothing_is_owed(
    limited: httpx.AsyncClient, limited_db: SessionFactory, tokens: Tokens
) -> None:
    client = tokens.client(await register_client(limited, tokens))
    created = await limited.post("/v1/jobs", json=job_body(), headers=client)
    append = f"/v1/jobs/{created.json()['id']}/items"
    fifteen = ndjson_body(scan_items(15))

    # Read and counted a few rows at a time, yet one request that began owing nothing.
    appended = await limited.post(append, content=in_chunks(fifteen, 40), headers=client | NDJSON)

    assert appended.status_code == 202, appended.text
    assert appended.json() == {"accepted": 15}
    assert await item_count(limited_db, created.json()["id"]) == 15
    again = await limited.post(append, content=ndjson_body(scan_items(1)), headers=client | NDJSON)
    detail = assert_problem(again, 429)["detail"]
    assert detail.startswith("this client may send 10 items a minute"), "the 15 are owed"
