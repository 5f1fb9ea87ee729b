"""Clients create jobs with items and read them back; what a job may not be."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest

from bpo_common.contracts import QcMode, QcPolicy
from bpo_common.contracts.intake import ItemsReceived, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields, outbox_events
from bpo_intake.domain.jobs import ITEMS_PER_EVENT

from .conftest import count_jobs, create_job, job_body, register_client, scan_items, stored_items
from .keying import INVOICE_LINES, THREE_WAY_MATCH


async def test_client_creates_a_job_with_items_and_reads_the_same_job_back(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    body = job_body(items=scan_items(3), required_skills=["finance"])

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
    assert job["qc"] == {
        "mode": "double",
        "review_sample_rate": "0.1",
        "target_accuracy": "0.99",
        "suggestion_threshold": "0.8",
        "wrong_suggestion_rate": "0.25",
        "golden_rate": "0",
        "agreed_controls": False,
    }
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
        "exception": 0,
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

    items = await stored_items(intake_db, UUID(job["id"]))
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
        *scan_items(2),
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
    envelopes = await outbox_events(intake_db, job_id=str(job_id))
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
    stored = await stored_items(intake_db, job_id)
    assert sorted((i.item_id, i.external_id, i.golden) for i in received.items) == sorted(
        (item.id, item.external_id, item.golden is not None) for item in stored
    )
    assert [i.golden for i in received.items].count(True) == 1


async def test_items_beyond_one_event_are_announced_in_several_events_covering_each_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    count = ITEMS_PER_EVENT + 1

    job = await create_job(intake, tokens, client_id, items=scan_items(count))

    assert job["counts"]["pending"] == job["counts"]["total"] == count
    envelopes = await outbox_events(intake_db, job_id=job["id"])
    batches = [
        envelope.payload(ItemsReceived).items
        for envelope in envelopes
        if envelope.type == ItemsReceived.event_type
    ]
    assert sorted(len(batch) for batch in batches) == [1, ITEMS_PER_EVENT]
    announced = [item.item_id for batch in batches for item in batch]
    stored = [item.id for item in await stored_items(intake_db, UUID(job["id"]))]
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
    pytest.param({"qc": {"target_accuracy": "1"}}, "qc.target_accuracy", id="target-1"),
    pytest.param({"qc": {"target_accuracy": "1E-20000"}}, "qc.target_accuracy", id="tiny-target"),
    pytest.param({"qc": {"golden_rate": "0.1234567"}}, "qc.golden_rate", id="rate-7-places"),
    pytest.param({"required_skills": ["Data Entry"]}, "required_skills[0]", id="bad-skill"),
    pytest.param(
        {"qc": {"mode": "assisted", "suggestion_threshold": "0"}},
        "qc.suggestion_threshold",
        id="threshold-0",
    ),
    pytest.param(
        {"qc": {"wrong_suggestion_rate": "-0.1"}}, "qc.wrong_suggestion_rate", id="negative-rate"
    ),
    pytest.param(
        {"fields": [{"name": "total", "type": "decimal", "hints": {"labels": []}}]},
        "fields[0].hints.labels",
        id="no-hint-labels",
    ),
    pytest.param(
        {"fields": [{"name": "total", "type": "decimal", "hints": {"labels": ["x" * 101]}}]},
        "fields[0].hints.labels[0]",
        id="long-hint-label",
    ),
    pytest.param(
        {
            "fields": [
                {"name": "total", "type": "decimal", "hints": {"labels": ["Sum"], "words": []}}
            ]
        },
        "fields[0].hints.words",
        id="unknown-hint",
    ),
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
    pytest.param(
        {"fields": [INVOICE_LINES[0], {"name": "lines", "type": "table"}]},
        "fields[1].columns",
        id="table-without-columns",
    ),
    pytest.param(
        {
            "fields": INVOICE_LINES,
            "match": THREE_WAY_MATCH | {"tolerances": {"sku": {"percent": "2"}}},
        },
        "match.tolerances.sku",
        id="tolerance-on-a-column-the-match-does-not-compare",
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


# A table in a table, keyed on a column it lacks, with fewer rows allowed than needed.
BAD_LINES: dict[str, Any] = {
    "name": "lines",
    "type": "table",
    "key": "sku",
    "min_rows": 5,
    "max_rows": 2,
}
BAD_LINES["columns"] = [INVOICE_LINES[1] | {"name": "sub"}, {"name": "qty", "type": "decimal"}]
BAD_TABLES_AND_MATCHES: list[Any] = [
    pytest.param(
        {"fields": [INVOICE_LINES[0], BAD_LINES]},
        {
            "fields[1].columns[0].type": "a column cannot be a table",
            "fields[1].key": "sku is not a column of lines",
            "fields[1].max_rows": "max_rows must not be less than min_rows",
        },
        id="table-shape",
    ),
    pytest.param(
        {
            "fields": INVOICE_LINES,
            "match": THREE_WAY_MATCH | {"order_field": "vendor", "table": "po_number"},
        },
        {
            "match.order_field": "vendor is not a field of the job",
            "match.table": "po_number is not a table field of the job",
        },
        id="match-on-fields-the-job-lacks",
    ),
    pytest.param(
        {"fields": INVOICE_LINES, "match": THREE_WAY_MATCH | {"line": "row", "quantity": "sku"}},
        {
            "match.line": "row is not a column of lines",
            "match.quantity": "sku is not a number column",
        },
        id="match-on-columns-the-table-lacks",
    ),
]


@pytest.mark.parametrize(("change", "errors"), BAD_TABLES_AND_MATCHES)
async def test_a_bad_table_or_match_rule_is_refused_with_each_problem_at_its_path(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
    change: dict[str, Any],
    errors: dict[str, str],
) -> None:
    client_id = await register_client(intake, tokens)

    response = await intake.post(
        "/v1/jobs", json=job_body(**change), headers=tokens.client(client_id)
    )

    problem = assert_problem(response, 422)
    assert {error["field"]: error["message"] for error in problem["errors"]} == errors
    assert problem["detail"] == f"invalid request: {', '.join(errors)}"
    assert await count_jobs(intake_db, client_id) == 0


async def test_a_request_line_with_a_nul_is_refused_naming_the_path_or_parameter(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = tokens.client(client_id)
    by_parameter = await intake.get("/v1/jobs?external_ref=batch%007&limit=5", headers=headers)
    assert error_fields(assert_problem(by_parameter, 422)) == ["external_ref"]
    in_path = await intake.get("/v1/jobs/batch%00", headers=headers)
    assert error_fields(assert_problem(in_path, 422)) == ["path"]


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
