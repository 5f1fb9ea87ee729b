"""Clients append items to open jobs as JSON, NDJSON or CSV: all of a request, or nothing."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bpo_common.db import SessionFactory
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)
from bpo_intake.domain.jobs import ITEMS_PER_EVENT, ItemStatus
from bpo_intake.models import Job

from .appending import (
    CSV,
    JSON,
    NDJSON,
    announced_items,
    in_chunks,
    item_count,
    items_path,
    ndjson_body,
    open_job,
)
from .conftest import create_job, job_body, register_client, stored_items


async def test_items_appended_as_json_are_stored_with_golden_answers_normalized_and_announced(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    body = {
        "items": [
            {"external_id": "scan-1", "source": {"image": "s3://scans/1.png", "page": 1}},
            {"source": {"image": "s3://scans/2.png", "tags": ["a", "é"], "amount": 12.5}},
            {
                "external_id": "control-1",
                "source": {"image": "s3://scans/3.png"},
                "golden": {"invoice_number": "  INV   7 ", "total": "1,234.50"},
            },
        ]
    }

    response = await intake.post(items_path(job_id), json=body, headers=headers)

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3}
    stored = await stored_items(intake_db, job_id)
    assert [(item.external_id, item.source, item.golden) for item in stored] == [
        ("scan-1", {"image": "s3://scans/1.png", "page": 1}, None),
        (None, {"image": "s3://scans/2.png", "tags": ["a", "é"], "amount": 12.5}, None),
        (
            "control-1",
            {"image": "s3://scans/3.png"},
            {"invoice_number": "INV 7", "total": "1234.5", "issued_on": None},
        ),
    ]
    assert {item.status for item in stored} == {ItemStatus.PENDING}
    assert await announced_items(intake_db, job_id) == [
        [(stored[0].id, False), (stored[1].id, False), (stored[2].id, True)]
    ]


async def test_items_appended_as_ndjson_are_stored_and_blank_lines_are_skipped(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    body = (
        b'{"external_id": "a", "source": {"text": "caf\xc3\xa9"}}\n'
        b"\n"
        b"   \r\n"
        b'{"external_id": "b", "source": {}, "golden": {"invoice_number": "X1", "total": 3}}\r\n'
        b'{"external_id": "c", "source": {"n": 3}}'  # no newline at the end
    )

    response = await intake.post(
        items_path(job_id), content=in_chunks(body), headers={**headers, **NDJSON}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3}
    stored = await stored_items(intake_db, job_id)
    assert [(item.external_id, item.source, item.golden) for item in stored] == [
        ("a", {"text": "café"}, None),
        ("b", {}, {"invoice_number": "X1", "total": "3", "issued_on": None}),
        ("c", {"n": 3}, None),
    ]
    assert await announced_items(intake_db, job_id) == [
        [(stored[0].id, False), (stored[1].id, True), (stored[2].id, False)]
    ]


async def test_items_appended_as_csv_take_source_from_columns_and_golden_from_golden_columns(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    body = (
        "\ufeffexternal_id,image,note,golden.invoice_number,golden.total\r\n"
        "scan-1,s3://scans/1.png,plain,,\r\n"
        ',s3://scans/2.png,"with, a comma and ""quotes""",,\r\n'
        "\r\n"
        'control-1,s3://scans/3.png,"two\nlines",INV-9,"1.000,50"\r\n'
        "scan-4,s3://scans/4.png,naïve,,"
    ).encode()

    response = await intake.post(
        items_path(job_id), content=in_chunks(body), headers={**headers, **CSV}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 4}
    stored = await stored_items(intake_db, job_id)
    assert [(item.external_id, item.source, item.golden) for item in stored] == [
        ("scan-1", {"image": "s3://scans/1.png", "note": "plain"}, None),
        (None, {"image": "s3://scans/2.png", "note": 'with, a comma and "quotes"'}, None),
        (
            "control-1",
            {"image": "s3://scans/3.png", "note": "two\nlines"},
            {"invoice_number": "INV-9", "total": "1000.5", "issued_on": None},
        ),
        ("scan-4", {"image": "s3://scans/4.png", "note": "naïve"}, None),
    ]
    assert [
        golden for batch in await announced_items(intake_db, job_id) for _, golden in batch
    ] == [
        False,
        False,
        True,
        False,
    ]


async def test_a_csv_saved_by_excel_for_mac_with_lines_ending_in_cr_alone_is_read(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    body = b"external_id,name\r1,a\r2,b\r"

    response = await intake.post(items_path(job_id), content=body, headers={**headers, **CSV})

    assert response.json() == {"accepted": 2}, response.text
    stored = await stored_items(intake_db, job_id)
    assert [(item.external_id, item.source) for item in stored] == [
        ("1", {"name": "a"}),
        ("2", {"name": "b"}),
    ]


async def test_a_csv_that_excel_saved_with_semicolons_is_read_with_its_ids_and_answers(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    body = (
        "external_id;vendor;golden.invoice_number;golden.total\r\n"
        "A-1;Acme;;\r\n"
        "A-2;Beta;INV-2;12,50\r\n"
    )

    response = await intake.post(items_path(job_id), content=body, headers=headers | CSV)

    assert response.json() == {"accepted": 2}, response.text
    stored = await stored_items(intake_db, job_id)
    assert [(item.external_id, item.source, item.golden) for item in stored] == [
        ("A-1", {"vendor": "Acme"}, None),
        (
            "A-2",
            {"vendor": "Beta"},
            {"invoice_number": "INV-2", "total": "12.5", "issued_on": None},
        ),
    ]


async def test_a_csv_naming_a_reserved_column_in_another_case_is_refused_and_nothing_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)

    response = await intake.post(
        items_path(job_id), content=b"External_ID,vendor\r\nA-1,Acme\r\n", headers=headers | CSV
    )

    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {
            "field": "line 1: External_ID",
            "message": "did you mean external_id? "
            "external_id, documents and golden.<field> are written in lower case",
        }
    ]
    assert await item_count(intake_db, job_id) == 0


async def test_items_beyond_one_batch_are_announced_in_events_that_cover_each_item_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await open_job(intake, tokens)
    count = 2 * ITEMS_PER_EVENT + 1
    rows = [{"external_id": f"scan-{n}", "source": {"n": n}} for n in range(count)]

    response = await intake.post(
        items_path(job_id), content=ndjson_body(rows), headers={**headers, **NDJSON}
    )

    assert response.json() == {"accepted": count}
    batches = await announced_items(intake_db, job_id)
    assert sorted(len(batch) for batch in batches) == [1, ITEMS_PER_EVENT, ITEMS_PER_EVENT]
    announced = sorted(item_id for batch in batches for item_id, _ in batch)
    assert announced == [item.id for item in await stored_items(intake_db, job_id)]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b'{"items": []}', JSON, id="json-no-items"),
        pytest.param(b"", NDJSON, id="ndjson-nothing"),
        pytest.param(b"\n  \n", NDJSON, id="ndjson-blank-lines"),
        pytest.param(b"", CSV, id="csv-nothing"),
        pytest.param(b"external_id,image\r\n", CSV, id="csv-header-only"),
    ],
)
async def test_an_append_that_holds_no_item_is_refused_naming_the_body(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
    body: bytes,
    headers: dict[str, str],
) -> None:
    client, job_id = await open_job(intake, tokens)

    response = await intake.post(items_path(job_id), content=body, headers=client | headers)

    problem = assert_problem(response, 422)
    assert problem["detail"] == "nothing was stored: the body holds no item; send at least one"
    assert problem["errors"] == [{"field": "body", "message": "holds no item"}]
    assert await item_count(intake_db, job_id) == 0
    assert await announced_items(intake_db, job_id) == []


async def test_one_hundred_thousand_ndjson_rows_stream_into_one_request(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    job_id = (await create_job(intake, tokens, client_id, qc={"mode": "single"}))["id"]
    headers = tokens.client(client_id)
    count = 100_000

    async def rows() -> AsyncIterator[bytes]:
        # Generated as it is sent: neither side ever holds the whole body.
        for start in range(0, count, 1000):
            yield b"".join(
                b'{"external_id":"scan-%d","source":{"image":"s3://scans/%d.png","page":%d}}\n'
                % (n, n, n % 50)
                for n in range(start, start + 1000)
            )

    started = time.perf_counter()
    response = await intake.post(
        items_path(job_id), content=rows(), headers={**headers, **NDJSON}, timeout=120
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": count}
    assert await item_count(intake_db, job_id) == count
    batches = await announced_items(intake_db, job_id)
    assert len(batches) == count // ITEMS_PER_EVENT
    assert sum(len(batch) for batch in batches) == count
    print(f"100,000 NDJSON items in {elapsed:.1f} s ({count / elapsed:,.0f} items/s)")


async def test_a_job_created_with_a_bad_golden_item_is_rejected_naming_it_and_not_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    items = [
        {"source": {"page": 1}},
        {"source": {"page": 2}, "golden": {"invoice_number": "A-1", "total": "lots"}},
    ]

    response = await intake.post(
        "/v1/jobs", json=job_body(items=items), headers=tokens.client(client_id)
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["items[1].golden.total"]
    async with intake_db() as session:
        jobs = await session.scalar(select(func.count()).where(Job.client_id == client_id))
    assert jobs == 0


async def test_a_job_created_with_golden_items_stores_their_answers_normalized(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    golden = {"invoice_number": " A-1 ", "total": "12.50", "issued_on": "2031-01-02"}

    job = await create_job(intake, tokens, client_id, items=[{"source": {}, "golden": golden}])

    (item,) = await stored_items(intake_db, job["id"])
    assert item.golden == {"invoice_number": "A-1", "total": "12.5", "issued_on": "2031-01-02"}
