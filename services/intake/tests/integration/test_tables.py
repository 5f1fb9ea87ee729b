"""Jobs with table fields and a match rule: the rule kept and announced, golden tables and a
verify job's client tables taken from NDJSON and JSON (never from a CSV cell), and results
with tables nested in JSON and spread over rows in CSV."""

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update

from bpo_common.contracts.intake import JobCreated
from bpo_common.db import SessionFactory
from bpo_common.rules import Match
from bpo_devtools.testing import Tokens, assert_problem, outbox_events
from bpo_intake.domain.items import not_in_csv
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item

from .appending import CSV, NDJSON, item_count, items_path, ndjson_body
from .conftest import create_job, register_client, stored_items
from .keying import INVOICE_LINES, THREE_WAY_MATCH

DONE_AT = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


async def invoice_job(
    intake: httpx.AsyncClient, tokens: Tokens, **overrides: Any
) -> tuple[dict[str, str], dict[str, Any]]:
    """A new client's headers and its job of invoices with lines, matched three ways."""
    client_id = await register_client(intake, tokens)
    job = await create_job(
        intake,
        tokens,
        client_id,
        **{
            "fields": INVOICE_LINES,
            "match": THREE_WAY_MATCH,
            "qc": {"mode": "single"},
            **overrides,
        },
    )
    return tokens.client(client_id), job


async def test_a_jobs_match_rule_is_kept_shown_and_announced_with_its_tables(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job = await invoice_job(intake, tokens)

    assert job["match"] == {
        "orders": "purchase-orders",
        "order_field": "po_number",
        "table": "lines",
        "line": "line",
        "quantity": "qty",
        "price": "price",
        "tolerances": {"price": {"absolute": None, "percent": "2"}},
        "receipts": {"dataset": "goods-receipts", "order_column": "order"},
        "duplicates": None,
    }
    assert job["fields"][1]["columns"][3] == {
        "name": "price",
        "type": "decimal",
        "required": True,
        "decimal_places": 2,
    }
    fetched = await intake.get(f"/v1/jobs/{job['id']}", headers=headers)
    assert fetched.json() == job
    listed = await intake.get("/v1/jobs", headers=headers)
    assert [j["match"] for j in listed.json()["data"]] == [job["match"]]
    (created,) = [
        e
        for e in await outbox_events(intake_db, job_id=job["id"])
        if e.type == JobCreated.event_type
    ]
    assert created.data["match"] == job["match"]
    assert created.payload(JobCreated).match == Match.model_validate(THREE_WAY_MATCH)
    assert created.data["fields"] == job["fields"]


async def test_a_job_without_a_match_rule_shows_none(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    _, job = await invoice_job(intake, tokens, match=None)

    assert job["match"] is None
    (created,) = [
        e
        for e in await outbox_events(intake_db, job_id=job["id"])
        if e.type == JobCreated.event_type
    ]
    assert created.data["match"] is None


async def test_golden_tables_come_normalized_in_ndjson_and_a_csv_golden_answer_is_told_to_use_it(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job = await invoice_job(intake, tokens)
    golden = {"po_number": "PO-1", "lines": [{"line": "1", "sku": " A ", "qty": "2", "price": 3}]}
    bad = {"po_number": "PO-2", "lines": [{"line": 1, "qty": "x", "price": "1", "zz": 0}]}

    refused = await intake.post(
        items_path(job["id"]),
        content=ndjson_body([{"source": {}, "golden": golden}, {"source": {}, "golden": bad}]),
        headers={**headers, **NDJSON},
    )
    problem = assert_problem(refused, 422)
    assert {e["field"]: e["message"] for e in problem["errors"]} == {
        "line 2: golden.lines[0].zz": "not a column of lines",
        "line 2: golden.lines[0].sku": "required",
        "line 2: golden.lines[0].qty": "not a number",
    }
    in_csv = await intake.post(
        items_path(job["id"]),
        content=b"external_id,golden.po_number\r\nscan-1,PO-1\r\n",
        headers={**headers, **CSV},
    )
    (error,) = assert_problem(in_csv, 422)["errors"]
    assert error == {"field": "line 2: golden.lines", "message": not_in_csv("lines")}
    assert await item_count(intake_db, job["id"]) == 0

    stored = await intake.post(
        items_path(job["id"]),
        content=ndjson_body([{"source": {}, "golden": golden}]),
        headers={**headers, **NDJSON},
    )
    assert stored.json() == {"accepted": 1}
    (item,) = await stored_items(intake_db, job["id"])
    assert item.golden == {
        "po_number": "PO-1",
        "lines": [{"line": 1, "sku": "A", "qty": "2", "price": "3.00"}],
    }


async def test_a_verify_jobs_client_table_is_its_rows_which_a_csv_cell_cannot_hold(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job = await invoice_job(intake, tokens, qc={"mode": "verify"})
    rows = [{"line": 1, "sku": "A", "qty": "2", "price": "3"}]

    in_csv = await intake.post(
        items_path(job["id"]),
        content=b"external_id,po_number,lines\r\nscan-1,PO-1,A x 2\r\n",
        headers={**headers, **CSV},
    )
    (error,) = assert_problem(in_csv, 422)["errors"]
    assert error == {"field": "line 2: source.lines", "message": not_in_csv("lines")}
    in_json = await intake.post(
        items_path(job["id"]),
        json={"items": [{"source": {"po_number": "PO-1", "lines": rows}}]},
        headers=headers,
    )
    assert in_json.json() == {"accepted": 1}
    (item,) = await stored_items(intake_db, job["id"])
    assert item.source == {"po_number": "PO-1", "lines": rows}


async def finish(sessions: SessionFactory, item_id: UUID, result: dict[str, Any]) -> None:
    """Complete an item with this result, as the QC flow would."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Item)
            .where(Item.id == item_id)
            .values(status=ItemStatus.COMPLETED, result=result, completed_at=DONE_AT)
        )


async def test_results_nest_tables_in_json_and_give_a_csv_row_per_table_row(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    fields = [*INVOICE_LINES, {"name": "total", "type": "decimal", "required": False}]
    headers, job = await invoice_job(
        intake,
        tokens,
        fields=fields,
        items=[{"external_id": f"inv-{n}", "source": {}} for n in (1, 2)],
    )
    first, second = await stored_items(intake_db, job["id"])
    lines = [
        {"line": 1, "sku": "A-1", "qty": "2", "price": "9.90"},
        {"line": 2, "sku": "=B", "qty": "1", "price": None},
    ]
    await finish(intake_db, first.id, {"po_number": "PO-1", "lines": lines, "total": "19.80"})
    await finish(intake_db, second.id, {"po_number": "PO-2", "lines": [], "total": None})
    path = f"/v1/jobs/{job['id']}/results"

    as_json = await intake.get(path, headers={**headers, "Accept": "application/json"})
    as_csv = await intake.get(path, headers={**headers, "Accept": "text/csv"})

    assert [record["data"] for record in as_json.json()] == [
        {"po_number": "PO-1", "lines": lines, "total": "19.80"},
        {"po_number": "PO-2", "lines": [], "total": None},
    ]
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text))) == [
        [
            "item_id",
            "external_id",
            "line",
            "po_number",
            "lines.line",
            "lines.sku",
            "lines.qty",
            "lines.price",
            "total",
        ],
        [str(first.id), "inv-1", "1", "PO-1", "1", "A-1", "2", "9.90", "19.80"],
        [str(first.id), "inv-1", "2", "PO-1", "2", "'=B", "1", "", "19.80"],
        [str(second.id), "inv-2", "", "PO-2", "", "", "", "", ""],
    ]
    assert json.loads(as_json.text)[0]["external_id"] == "inv-1"
