"""Who may append items and when, in which media types, repeated safely; listing items."""

import httpx
import pytest
from sqlalchemy import func, select, update

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)
from bpo_intake.domain.jobs import ItemStatus, JobStatus
from bpo_intake.models import Item

from .appending import (
    NDJSON,
    announced_items,
    good_item,
    in_chunks,
    item_count,
    items_path,
    ndjson_body,
    open_job,
    set_job_status,
)
from .conftest import create_job, register_client, stored_items


@pytest.fixture
async def keyed_job(intake: httpx.AsyncClient, tokens: Tokens) -> tuple[dict[str, str], str]:
    """A new client's empty job, and its headers for NDJSON with a fresh Idempotency-Key."""
    headers, job_id = await open_job(intake, tokens)
    return {**headers, **NDJSON, "Idempotency-Key": f"append-{new_id()}"}, job_id


@pytest.mark.parametrize("status", [JobStatus.CLOSED, JobStatus.CANCELLED, JobStatus.COMPLETED])
async def test_items_cannot_be_added_to_a_job_that_is_not_open(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, status: JobStatus
) -> None:
    headers, job_id = await open_job(intake, tokens)
    await set_job_status(intake_db, job_id, status)

    response = await intake.post(
        items_path(job_id), content=ndjson_body([good_item(1)]), headers={**headers, **NDJSON}
    )

    problem = assert_problem(response, 409)
    assert problem["detail"] == (
        f"job {job_id} is {status.value}; items can be added only while a job is open"
    )
    assert await item_count(intake_db, job_id) == 0


async def test_another_clients_job_is_not_found_and_gets_no_items(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    _, alices_job = await open_job(intake, tokens)
    bob = tokens.client(await register_client(intake, tokens, "Bob Co"))
    unknown = str(new_id())

    peeking = await intake.post(items_path(alices_job), json={"items": [good_item(1)]}, headers=bob)
    missing = await intake.post(items_path(unknown), json={"items": [good_item(1)]}, headers=bob)

    assert assert_problem(peeking, 404)["detail"] == f"no job {alices_job}"
    assert assert_problem(missing, 404)["detail"] == f"no job {unknown}"
    assert await item_count(intake_db, alices_job) == 0


@pytest.mark.parametrize("role", ["contractor", "manager"])
async def test_only_a_client_appends_items(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, role: str
) -> None:
    _, job_id = await open_job(intake, tokens)
    headers = tokens.contractor(new_id()) if role == "contractor" else tokens.manager()

    response = await intake.post(
        items_path(job_id), json={"items": [good_item(1)]}, headers=headers
    )

    assert assert_problem(response, 403)["detail"] == (
        f"this needs the role client; the token has {role}"
    )
    assert await item_count(intake_db, job_id) == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", None, "text/csv; charset=latin-1"],
)
async def test_items_in_another_media_type_are_refused_with_415(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, content_type: str | None
) -> None:
    headers, job_id = await open_job(intake, tokens)
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}

    response = await intake.post(
        items_path(job_id), content=b"external_id\r\nx\r\n", headers=headers
    )

    problem = assert_problem(response, 415)
    assert "application/json, application/x-ndjson or text/csv" in problem["detail"] or (
        problem["detail"] == "send items in UTF-8"
    )
    assert await item_count(intake_db, job_id) == 0


async def test_media_type_parameters_and_case_are_accepted(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)

    response = await intake.post(
        items_path(job_id),
        content=b"external_id\r\nx\r\n",
        headers={**headers, "Content-Type": 'Text/CSV; charset="UTF-8"; header=present'},
    )

    assert response.status_code == 202, response.text
    assert await item_count(intake_db, job_id) == 1


async def test_replaying_a_streamed_append_returns_the_first_answer_and_stores_items_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_job: tuple[dict[str, str], str]
) -> None:
    headers, job_id = keyed_job
    body = ndjson_body([good_item(n) for n in range(1500)])

    first = await intake.post(items_path(job_id), content=in_chunks(body, 1000), headers=headers)
    # The same bytes cut into other chunks are the same body.
    replay = await intake.post(items_path(job_id), content=in_chunks(body, 333), headers=headers)

    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert replay.status_code == 202, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json() == {"accepted": 1500}
    assert await item_count(intake_db, job_id) == 1500
    assert sum(len(batch) for batch in await announced_items(intake_db, job_id)) == 1500


async def test_the_same_key_with_another_streamed_body_is_rejected_and_stores_nothing(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_job: tuple[dict[str, str], str]
) -> None:
    headers, job_id = keyed_job
    await intake.post(items_path(job_id), content=ndjson_body([good_item(1)]), headers=headers)

    response = await intake.post(
        items_path(job_id),
        content=in_chunks(ndjson_body([good_item(1), good_item(2)])),
        headers=headers,
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert await item_count(intake_db, job_id) == 1


async def test_a_failed_append_leaves_its_key_free_for_the_corrected_request(
    intake: httpx.AsyncClient, intake_db: SessionFactory, keyed_job: tuple[dict[str, str], str]
) -> None:
    headers, job_id = keyed_job

    rejected = await intake.post(
        items_path(job_id), content=b'{"source": {}}\n{"source": 1}\n', headers=headers
    )
    corrected = await intake.post(
        items_path(job_id), content=b'{"source": {}}\n{"source": {}}\n', headers=headers
    )

    assert_problem(rejected, 422)
    assert corrected.status_code == 202, corrected.text
    assert "Idempotent-Replayed" not in corrected.headers
    assert await item_count(intake_db, job_id) == 2


async def test_an_append_whose_key_is_still_being_processed_gets_409(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)
    key = f"append-{new_id()}"
    headers = {**tokens.client(client_id), **NDJSON, "Idempotency-Key": key}
    # Hold the key's lock as a first request still streaming its body would.
    async with intake_db() as session, session.begin():
        lock = func.pg_try_advisory_xact_lock(
            func.hashtextextended(f"client:{client_id}\n{key}", 0)
        )
        assert await session.scalar(select(lock)) is True

        busy = await intake.post(
            items_path(job["id"]), content=ndjson_body([good_item(1)]), headers=headers
        )

    problem = assert_problem(busy, 409)
    assert "still being processed" in problem["detail"]
    assert await item_count(intake_db, job["id"]) == 0


async def test_a_jobs_items_are_listed_in_pages_and_filtered_by_status(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    await intake.post(
        items_path(job_id),
        content=ndjson_body([good_item(n) for n in range(5)]),
        headers={**headers, **NDJSON},
    )
    stored = await stored_items(intake_db, job_id)
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Item)
            .where(Item.id.in_([stored[1].id, stored[3].id]))
            .values(status=ItemStatus.REJECTED)
        )

    first = await intake.get(items_path(job_id), params={"limit": 3}, headers=headers)
    second = await intake.get(
        items_path(job_id),
        params={"limit": 3, "cursor": first.json()["next_cursor"]},
        headers=headers,
    )
    rejected = await intake.get(items_path(job_id), params={"status": "rejected"}, headers=headers)

    assert first.status_code == second.status_code == rejected.status_code == 200
    assert first.json()["data"][0] == {
        "id": str(stored[0].id),
        "job_id": job_id,
        "external_id": "scan-0",
        "status": "pending",
        "source": {"page": 0},
        "documents": [],
        "result": None,
        "completed_at": None,
        "flagged_reason": None,
        "exception": None,
        "layout_id": None,
        "suggestions": {},
    }
    listed = [item["id"] for item in first.json()["data"] + second.json()["data"]]
    assert listed == [str(item.id) for item in stored]
    assert second.json()["next_cursor"] is None
    assert [item["id"] for item in rejected.json()["data"]] == [
        str(stored[1].id),
        str(stored[3].id),
    ]
    assert {item["status"] for item in rejected.json()["data"]} == {"rejected"}


async def test_listing_items_checks_the_status_and_who_asks(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    await intake.post(items_path(job_id), json={"items": [good_item(1)]}, headers=headers)
    bob = tokens.client(await register_client(intake, tokens, "Bob Co"))

    bad_status = await intake.get(items_path(job_id), params={"status": "done"}, headers=headers)
    peeking = await intake.get(items_path(job_id), headers=bob)
    contractor = await intake.get(items_path(job_id), headers=tokens.contractor(new_id()))
    manager = await intake.get(items_path(job_id), headers=tokens.manager())

    assert error_fields(assert_problem(bad_status, 422)) == ["status"]
    assert assert_problem(peeking, 404)["detail"] == f"no job {job_id}"
    assert_problem(contractor, 403)
    assert manager.status_code == 200, manager.text
    assert [item["external_id"] for item in manager.json()["data"]] == ["scan-1"]
