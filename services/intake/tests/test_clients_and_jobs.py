"""Clients register, create jobs with items, and see only their own work."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from bpo_common.contracts import QcMode, QcPolicy
from bpo_common.contracts.intake import ItemsReceived, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, assert_problem, error_fields, serve
from bpo_intake.app import create_app
from bpo_intake.models import Client, Item
from bpo_intake.service import ITEMS_PER_EVENT
from bpo_intake.settings import Settings

from .conftest import count_jobs, create_job, job_body, outbox_envelopes, register_client


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {"external_id": f"scan-{n}", "source": {"image": f"s3://scans/{n}.png", "page": n}}
        for n in range(count)
    ]


async def _stored_items(sessions: SessionFactory, job_id: UUID) -> list[Item]:
    async with sessions() as session:
        return list(await session.scalars(select(Item).where(Item.job_id == job_id)))


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


# Clients


async def test_manager_registers_a_client_and_gets_its_webhook_secret_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    response = await intake.post(
        "/v1/clients",
        json={"name": "Northwind Logistics", "webhook_url": "https://hooks.northwind.example/bpo"},
        headers=tokens.manager(),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert UUID(body["id"]).version == 7
    assert body["name"] == "Northwind Logistics"
    assert body["webhook_url"] == "https://hooks.northwind.example/bpo"
    assert body["webhook_secret"].startswith("whsec_")
    assert len(body["webhook_secret"]) > len("whsec_") + 32, "the secret must be hard to guess"
    async with intake_db() as session:
        stored = await session.get(Client, UUID(body["id"]))
    assert stored is not None
    assert stored.name == "Northwind Logistics"
    assert stored.webhook_url == body["webhook_url"]
    assert stored.webhook_secret == body["webhook_secret"]
    assert datetime.fromisoformat(body["created_at"]) == stored.created_at


async def test_two_clients_get_different_webhook_secrets(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    first, second = [
        (await intake.post("/v1/clients", json={"name": name}, headers=tokens.manager())).json()
        for name in ("Contoso", "Fabrikam")
    ]

    assert first["id"] != second["id"]
    assert first["webhook_secret"] != second["webhook_secret"]


async def test_client_with_an_invalid_webhook_url_is_rejected_and_not_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Bad hook {new_id()}"

    response = await intake.post(
        "/v1/clients", json={"name": name, "webhook_url": "not a url"}, headers=tokens.manager()
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["webhook_url"]
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 0


@pytest.mark.parametrize("role", ["client", "contractor"])
async def test_only_a_manager_registers_clients(
    intake: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    headers = tokens.client(new_id()) if role == "client" else tokens.contractor(new_id())

    response = await intake.post("/v1/clients", json={"name": "Sneaky"}, headers=headers)

    problem = assert_problem(response, 403)
    assert problem["detail"] == f"this needs the role manager; the token has {role}"


# Jobs


async def test_client_creates_a_job_with_items_and_reads_the_same_job_back(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    body = job_body(items=_items(3), required_skills=["finance"])

    response = await intake.post("/v1/jobs", json=body, headers=tokens.client(client_id))

    assert response.status_code == 201, response.text
    job = response.json()
    assert UUID(job["id"]).version == 7
    assert job["client_id"] == str(client_id)
    assert job["status"] == "open"
    assert job["work_type"] == "invoice"
    assert job["fields"] == [
        {"name": "invoice_number", "type": "string", "required": True},
        {"name": "total", "type": "decimal", "required": True},
        {"name": "issued_on", "type": "date", "required": False},
    ]
    assert job["qc"] == {"mode": "double", "review_sample_rate": "0.1", "target_accuracy": "0.99"}
    assert datetime.fromisoformat(job["due_at"]) - datetime.fromisoformat(
        job["created_at"]
    ) == timedelta(hours=24), "an SLA in hours sets the deadline from creation"
    assert Decimal(job["sla_hours"]) == 24
    assert job["priority"] == 70
    assert job["required_skills"] == ["finance"]
    assert job["external_ref"] == body["external_ref"]
    assert job["counts"] == {
        "pending": 3,
        "in_progress": 0,
        "in_review": 0,
        "completed": 0,
        "rejected": 0,
        "total": 3,
    }
    assert job["progress"] == 0
    assert job["completed_at"] is None
    created_at = datetime.fromisoformat(job["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)

    again = await intake.get(f"/v1/jobs/{job['id']}", headers=tokens.client(client_id))
    assert again.status_code == 200, again.text
    assert again.json() == job

    items = await _stored_items(intake_db, UUID(job["id"]))
    assert sorted((item.external_id, item.source["page"]) for item in items) == [
        ("scan-0", 0),
        ("scan-1", 1),
        ("scan-2", 2),
    ]
    assert {item.status.value for item in items} == {"pending"}
    assert {item.client_id for item in items} == {client_id}


async def test_job_due_at_is_stored_and_returned_in_utc(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    body = job_body(sla_hours=None, due_at="2031-05-04T18:30:00+02:00")

    created = await intake.post("/v1/jobs", json=body, headers=tokens.client(client_id))

    assert created.status_code == 201, created.text
    assert created.json()["due_at"] == "2031-05-04T16:30:00Z"
    fetched = await intake.get(f"/v1/jobs/{created.json()['id']}", headers=tokens.client(client_id))
    assert fetched.json() == created.json()


async def test_creating_a_job_puts_its_events_in_the_outbox_with_the_request_correlation_id(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    correlation_id = f"test-{new_id()}"
    items = [
        *_items(2),
        {
            "source": {"image": "s3://scans/gold.png"},
            "golden": {"invoice_number": "G-1", "total": "9.90"},
        },
    ]
    started = datetime.now(UTC)

    response = await intake.post(
        "/v1/jobs",
        json=job_body(items=items),
        headers={**tokens.client(client_id), "X-Correlation-ID": correlation_id},
    )

    assert response.status_code == 201, response.text
    assert response.headers["x-correlation-id"] == correlation_id
    job = response.json()
    job_id = UUID(job["id"])
    envelopes = await outbox_envelopes(intake_db, job_id)
    assert [envelope.type for envelope in envelopes] == [
        JobCreated.event_type,
        ItemsReceived.event_type,
    ]
    for envelope in envelopes:
        assert envelope.id.version == 7
        assert envelope.source == "intake"
        assert envelope.client_id == client_id
        assert envelope.correlation_id == correlation_id
        assert envelope.version == 1
        assert started - timedelta(seconds=1) <= envelope.time <= datetime.now(UTC)

    created = envelopes[0].payload(JobCreated)
    assert created.job_id == job_id
    assert created.client_id == client_id
    assert created.work_type == "invoice"
    assert envelopes[0].data["fields"] == job["fields"], "each spec travels as it was written"
    assert envelopes[0].data["qc"] == job["qc"]
    assert created.qc == QcPolicy(mode=QcMode.DOUBLE, review_sample_rate=Decimal("0.1"))
    assert created.priority == 70
    assert created.sla_hours == Decimal(24)
    assert created.due_at == datetime.fromisoformat(job["due_at"])
    assert created.external_ref == job["external_ref"]
    assert created.created_at == datetime.fromisoformat(job["created_at"])

    received = envelopes[1].payload(ItemsReceived)
    assert received.job_id == job_id
    assert received.client_id == client_id
    assert received.work_type == "invoice"
    stored = await _stored_items(intake_db, job_id)
    assert sorted((i.item_id, i.external_id, i.golden) for i in received.items) == sorted(
        (item.id, item.external_id, item.golden is not None) for item in stored
    )
    assert [i.golden for i in received.items].count(True) == 1


async def test_items_beyond_one_event_are_announced_in_several_events_covering_each_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    count = ITEMS_PER_EVENT + 1

    job = await create_job(intake, tokens, client_id, items=_items(count))

    assert job["counts"]["pending"] == job["counts"]["total"] == count
    envelopes = await outbox_envelopes(intake_db, UUID(job["id"]))
    batches = [
        envelope.payload(ItemsReceived).items
        for envelope in envelopes
        if envelope.type == ItemsReceived.event_type
    ]
    assert sorted(len(batch) for batch in batches) == [1, ITEMS_PER_EVENT]
    announced = [item.item_id for batch in batches for item in batch]
    stored = [item.id for item in await _stored_items(intake_db, UUID(job["id"]))]
    assert sorted(announced) == sorted(stored)


INVALID_JOBS: list[Any] = [
    pytest.param(
        {"fields": [{"name": "total", "type": "money"}]},
        "fields[0].type",
        id="unknown-field-type",
    ),
    pytest.param(
        {"fields": [{"name": "total", "type": "decimal"}, {"name": "total", "type": "string"}]},
        "fields",
        id="duplicate-field-names",
    ),
    pytest.param({"fields": []}, "fields", id="no-fields"),
    pytest.param(
        {"fields": [{"name": "1st total", "type": "decimal"}]},
        "fields[0].name",
        id="field-name-not-an-identifier",
    ),
    # Neither field is wrong on its own: the rule is about the body, and the message names both.
    pytest.param(
        {"due_at": "2031-01-01T00:00:00Z", "sla_hours": 24}, "sla_hours", id="due-at-and-sla-hours"
    ),
    pytest.param({"sla_hours": None, "due_at": "2031-01-01T00:00:00"}, "due_at", id="naive-due-at"),
    pytest.param({"priority": -1}, "priority", id="negative-priority"),
    pytest.param({"qc": {"review_sample_rate": "1.5"}}, "qc.review_sample_rate", id="rate-above-1"),
    pytest.param({"colour": "blue"}, "colour", id="unknown-property"),
    pytest.param({"items": [{"external_id": "x"}]}, "items[0].source", id="item-without-source"),
    # Text PostgreSQL cannot store: a NUL, or a surrogate without its partner.
    pytest.param({"external_ref": "batch\u00007"}, "external_ref", id="nul"),
    pytest.param(
        {"items": [{"source": {"scan": "\ud83d.png"}}]}, "items[0].source.scan", id="lone-surrogate"
    ),
    pytest.param(
        {"fields": [{"name": "status", "type": "enum", "choices": ["open", "\u0000"]}]},
        "fields[0].choices[1]",
        id="nul-in-a-choice",
    ),
]


@pytest.mark.parametrize(("change", "field"), INVALID_JOBS)
async def test_invalid_job_is_rejected_naming_the_bad_part_and_nothing_is_stored(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
    change: dict[str, Any],
    field: str,
) -> None:
    client_id = await register_client(intake, tokens)
    await create_job(intake, tokens, client_id)

    response = await intake.post(
        "/v1/jobs",
        content=json.dumps(job_body(**change)),  # escaped as JSON allows, lone surrogates too
        headers={**tokens.client(client_id), "Content-Type": "application/json"},
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert all(error["message"] for error in problem["errors"])
    assert problem["detail"] == f"invalid request: {field}"
    assert await count_jobs(intake_db, client_id) == 1


async def test_a_request_line_with_a_nul_is_refused_naming_the_path_or_parameter(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = tokens.client(client_id)
    by_parameter = await intake.get("/v1/jobs?external_ref=batch%007&limit=5", headers=headers)
    assert error_fields(assert_problem(by_parameter, 422)) == ["external_ref"]
    in_path = await intake.get("/v1/jobs/batch%00", headers=headers)
    assert error_fields(assert_problem(in_path, 422)) == ["path"]


async def test_a_client_name_with_a_nul_is_refused_and_not_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Acme {new_id()}"
    response = await intake.post(
        "/v1/clients", json={"name": f"{name}\u0000"}, headers=tokens.manager()
    )
    problem = assert_problem(response, 422)
    assert problem["title"] == "Unprocessable content"
    assert problem["errors"] == [
        {
            "field": "name",
            "message": "contains a NUL character or an unpaired surrogate, which cannot be stored",
        }
    ]
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name.like(f"{name}%")))
    assert stored == 0


async def test_a_json_body_that_is_not_utf8_is_refused_naming_the_byte(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await intake.post(
        "/v1/clients",
        content=b'{"name": "Caf\xe9"}',
        headers={**tokens.manager(), "Content-Type": "application/json"},
    )
    assert assert_problem(response, 422)["errors"] == [
        {"field": "body", "message": "not UTF-8 (byte 14)"}
    ]


async def test_job_with_both_due_at_and_sla_hours_says_to_pick_one(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    body = job_body(due_at="2031-01-01T00:00:00Z", sla_hours=24)

    response = await intake.post("/v1/jobs", json=body, headers=tokens.client(client_id))

    (error,) = assert_problem(response, 422)["errors"]
    assert "give due_at or sla_hours, not both" in error["message"]


async def test_duplicate_field_names_are_named_in_the_message(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    fields = [{"name": n, "type": "string"} for n in ("iban", "name", "iban", "name", "date")]

    response = await intake.post(
        "/v1/jobs", json=job_body(fields=fields), headers=tokens.client(client_id)
    )

    (error,) = assert_problem(response, 422)["errors"]
    assert "repeated: iban, name" in error["message"]


async def test_client_token_of_an_unregistered_client_cannot_create_jobs(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    stranger = new_id()

    response = await intake.post("/v1/jobs", json=job_body(), headers=tokens.client(stranger))

    problem = assert_problem(response, 403)
    assert problem["detail"] == (
        "this token's client is not registered; ask a manager to create it"
    )
    assert await count_jobs(intake_db, stranger) == 0


# Tenants


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
    alices_job = await create_job(intake, tokens, alice, items=_items(2))
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


# Pages


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


# Idempotency


async def test_replaying_a_job_with_the_same_key_and_body_returns_the_first_job(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = {**tokens.client(client_id), "Idempotency-Key": f"upload-{new_id()}"}
    body = job_body(items=_items(2))

    first = await intake.post("/v1/jobs", json=body, headers=headers)
    replay = await intake.post("/v1/jobs", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await count_jobs(intake_db, client_id) == 1
    assert len(await _stored_items(intake_db, UUID(first.json()["id"]))) == 2


async def test_same_key_with_a_different_body_is_rejected_and_creates_nothing(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = {**tokens.client(client_id), "Idempotency-Key": f"upload-{new_id()}"}
    await intake.post("/v1/jobs", json=job_body(priority=10), headers=headers)

    response = await intake.post("/v1/jobs", json=job_body(priority=90), headers=headers)

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert problem["detail"] == (
        "this Idempotency-Key was already used with a different request body"
    )
    assert await count_jobs(intake_db, client_id) == 1


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
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = {**tokens.client(client_id), "Idempotency-Key": f"upload-{new_id()}"}
    body = job_body(items=_items(50))

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
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    key = f"upload-{new_id()}"
    headers = {**tokens.client(client_id), "Idempotency-Key": key}
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


async def test_registering_a_client_twice_with_the_same_key_registers_it_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Once Ltd {new_id()}"
    headers = {**tokens.manager(), "Idempotency-Key": f"onboard-{new_id()}"}

    first = await intake.post("/v1/clients", json={"name": name}, headers=headers)
    replay = await intake.post("/v1/clients", json={"name": name}, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 1


# Limits


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
