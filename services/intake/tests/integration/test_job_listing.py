"""Clients see only their own jobs, managers every job, in pages that follow next_cursor."""

from typing import Any
from uuid import UUID

import httpx
import pytest

from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)

from .conftest import create_job, job_body, register_client, scan_items


async def _all_job_ids(intake: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """Every job id the caller can list, following next_cursor to the end."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        response = await intake.get("/v1/jobs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [job["id"] for job in page["data"]]
        if page["next_cursor"] is None:
            return ids
        params["cursor"] = page["next_cursor"]


async def test_client_cannot_see_another_clients_job_and_cannot_tell_it_exists(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    alice, bob = [await register_client(intake, tokens, name) for name in ("Alice Co", "Bob Co")]
    alices_job = await create_job(intake, tokens, alice)
    bobs_job = await create_job(intake, tokens, bob)

    peeking = await intake.get(f"/v1/jobs/{alices_job['id']}", headers=tokens.client(bob))
    unknown_id = new_id()
    missing = await intake.get(f"/v1/jobs/{unknown_id}", headers=tokens.client(bob))

    peeked = assert_problem(peeking, 404)
    absent = assert_problem(missing, 404)
    assert peeked["detail"] == f"no job {alices_job['id']}"
    assert peeked == {
        **absent,
        "detail": absent["detail"].replace(str(unknown_id), alices_job["id"]),
    }
    assert await _all_job_ids(intake, tokens.client(bob)) == [bobs_job["id"]]
    assert await _all_job_ids(intake, tokens.client(alice)) == [alices_job["id"]]


async def test_manager_sees_every_clients_jobs(intake: httpx.AsyncClient, tokens: Tokens) -> None:
    alice, bob = [await register_client(intake, tokens, name) for name in ("Alice Co", "Bob Co")]
    alices_job = await create_job(intake, tokens, alice, items=scan_items(2))
    bobs_job = await create_job(intake, tokens, bob)

    for job in (alices_job, bobs_job):
        seen = await intake.get(f"/v1/jobs/{job['id']}", headers=tokens.manager())
        assert seen.status_code == 200, seen.text
        assert seen.json() == job
    listed = await _all_job_ids(intake, tokens.manager())
    assert {alices_job["id"], bobs_job["id"]} <= set(listed)
    assert listed == sorted(listed, key=UUID), "jobs are listed oldest first"


async def test_contractor_can_neither_create_nor_list_jobs(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    contractor = tokens.contractor(new_id())

    created = await intake.post("/v1/jobs", json=job_body(), headers=contractor)
    listed = await intake.get("/v1/jobs", headers=contractor)

    assert assert_problem(created, 403)["detail"] == (
        "this needs the role client; the token has contractor"
    )
    assert assert_problem(listed, 403)["detail"] == (
        "this needs the role client, manager; the token has contractor"
    )


async def test_jobs_are_listed_in_pages_that_follow_next_cursor(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    created = [(await create_job(intake, tokens, client_id))["id"] for _ in range(3)]
    headers = tokens.client(client_id)

    first = await intake.get("/v1/jobs", params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    assert [job["id"] for job in first.json()["data"]] == created[:2]
    cursor = first.json()["next_cursor"]
    assert isinstance(cursor, str)
    assert cursor

    second = await intake.get("/v1/jobs", params={"limit": 2, "cursor": cursor}, headers=headers)
    assert second.status_code == 200, second.text
    assert [job["id"] for job in second.json()["data"]] == created[2:]
    assert second.json()["next_cursor"] is None


async def test_a_page_that_ends_exactly_at_the_last_job_has_no_next_cursor(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    created = [(await create_job(intake, tokens, client_id))["id"] for _ in range(2)]

    page = await intake.get("/v1/jobs", params={"limit": 2}, headers=tokens.client(client_id))

    assert [job["id"] for job in page.json()["data"]] == created
    assert page.json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["garbage", "%%%", "AAAA", "é"])
async def test_cursor_that_the_api_did_not_return_is_rejected(
    intake: httpx.AsyncClient, tokens: Tokens, cursor: str
) -> None:
    response = await intake.get(
        "/v1/jobs", params={"cursor": cursor}, headers=tokens.client(new_id())
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["cursor"]
    assert problem["detail"] == "the cursor is not one this API returned"


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten"])
async def test_page_size_outside_1_to_500_is_rejected(
    intake: httpx.AsyncClient, tokens: Tokens, limit: str
) -> None:
    response = await intake.get("/v1/jobs", params={"limit": limit}, headers=tokens.manager())

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["limit"]
