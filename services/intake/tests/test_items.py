"""Clients append items to open jobs as JSON, NDJSON or CSV: all of a request, or nothing."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, update

from bpo_common.contracts.intake import ItemsReceived
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields
from bpo_intake.models import Item, ItemStatus, Job, JobStatus
from bpo_intake.service import ITEMS_PER_EVENT

from .conftest import create_job, job_body, outbox_envelopes, register_client

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


async def _open_job(intake: httpx.AsyncClient, tokens: Tokens) -> tuple[dict[str, str], str]:
    """A new client's headers and the id of its new, empty job (fields invoice_number,
    total, and issued_on, which is optional)."""
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)
    return tokens.client(client_id), job["id"]


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


async def _stored(sessions: SessionFactory, job_id: str) -> list[Item]:
    async with sessions() as session:
        query = select(Item).where(Item.job_id == UUID(job_id)).order_by(Item.id)
        return list(await session.scalars(query))


async def _count(sessions: SessionFactory, job_id: str) -> int:
    async with sessions() as session:
        query = select(func.count()).where(Item.job_id == UUID(job_id))
        return int((await session.execute(query)).scalar_one())


async def _announced(sessions: SessionFactory, job_id: str) -> list[list[tuple[UUID, bool]]]:
    """The items of each ItemsReceived event about the job: (item id, golden) per item."""
    return [
        [(item.item_id, item.golden) for item in envelope.payload(ItemsReceived).items]
        for envelope in await outbox_envelopes(sessions, UUID(job_id))
        if envelope.type == ItemsReceived.event_type
    ]


async def _set_status(sessions: SessionFactory, job_id: str, status: JobStatus) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Job).where(Job.id == UUID(job_id)).values(status=status))


async def _chunked(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    """The body in small pieces, so rows and characters straddle chunk boundaries."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _items_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/items"


# Appending, one format at a time


async def test_items_appended_as_json_are_stored_with_golden_answers_normalized_and_announced(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
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

    response = await intake.post(_items_path(job_id), json=body, headers=headers)

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3}
    stored = await _stored(intake_db, job_id)
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
    assert await _announced(intake_db, job_id) == [
        [(stored[0].id, False), (stored[1].id, False), (stored[2].id, True)]
    ]


async def test_items_appended_as_ndjson_are_stored_and_blank_lines_are_skipped(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    body = (
        b'{"external_id": "a", "source": {"text": "caf\xc3\xa9"}}\n'
        b"\n"
        b"   \r\n"
        b'{"external_id": "b", "source": {}, "golden": {"invoice_number": "X1", "total": 3}}\r\n'
        b'{"external_id": "c", "source": {"n": 3}}'  # no newline at the end
    )

    response = await intake.post(
        _items_path(job_id), content=_chunked(body), headers={**headers, **NDJSON}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3}
    stored = await _stored(intake_db, job_id)
    assert [(item.external_id, item.source, item.golden) for item in stored] == [
        ("a", {"text": "café"}, None),
        ("b", {}, {"invoice_number": "X1", "total": "3", "issued_on": None}),
        ("c", {"n": 3}, None),
    ]
    assert await _announced(intake_db, job_id) == [
        [(stored[0].id, False), (stored[1].id, True), (stored[2].id, False)]
    ]


async def test_items_appended_as_csv_take_source_from_columns_and_golden_from_golden_columns(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    body = (
        "\ufeffexternal_id,image,note,golden.invoice_number,golden.total\r\n"
        "scan-1,s3://scans/1.png,plain,,\r\n"
        ',s3://scans/2.png,"with, a comma and ""quotes""",,\r\n'
        "\r\n"
        'control-1,s3://scans/3.png,"two\nlines",INV-9,"1.000,50"\r\n'
        "scan-4,s3://scans/4.png,naïve,,"
    ).encode()

    response = await intake.post(
        _items_path(job_id), content=_chunked(body), headers={**headers, **CSV}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 4}
    stored = await _stored(intake_db, job_id)
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
    assert [golden for batch in await _announced(intake_db, job_id) for _, golden in batch] == [
        False,
        False,
        True,
        False,
    ]


async def test_items_beyond_one_batch_are_announced_in_events_that_cover_each_item_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    count = 2 * ITEMS_PER_EVENT + 1
    rows = [{"external_id": f"scan-{n}", "source": {"n": n}} for n in range(count)]

    response = await intake.post(
        _items_path(job_id), content=_ndjson(rows), headers={**headers, **NDJSON}
    )

    assert response.json() == {"accepted": count}
    batches = await _announced(intake_db, job_id)
    assert sorted(len(batch) for batch in batches) == [1, ITEMS_PER_EVENT, ITEMS_PER_EVENT]
    announced = sorted(item_id for batch in batches for item_id, _ in batch)
    assert announced == [item.id for item in await _stored(intake_db, job_id)]


async def test_an_empty_append_accepts_nothing(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)

    as_json = await intake.post(_items_path(job_id), json={"items": []}, headers=headers)
    as_ndjson = await intake.post(_items_path(job_id), content=b"\n", headers={**headers, **NDJSON})
    as_csv = await intake.post(
        _items_path(job_id), content=b"external_id,image\r\n", headers={**headers, **CSV}
    )

    for response in (as_json, as_ndjson, as_csv):
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": 0}
    assert await _count(intake_db, job_id) == 0
    assert await _announced(intake_db, job_id) == []


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
        _items_path(job_id), content=rows(), headers={**headers, **NDJSON}, timeout=120
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": count}
    assert await _count(intake_db, job_id) == count
    batches = await _announced(intake_db, job_id)
    assert len(batches) == count // ITEMS_PER_EVENT
    assert sum(len(batch) for batch in batches) == count
    print(f"100,000 NDJSON items in {elapsed:.1f} s ({count / elapsed:,.0f} items/s)")


# One bad row: a 422 naming it, and nothing of the request stored


def _good(n: int) -> dict[str, Any]:
    return {"external_id": f"scan-{n}", "source": {"page": n}}


BAD_ROW_AFTER_A_STORED_BATCH = ITEMS_PER_EVENT + 200


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param(
            "application/json",
            json.dumps(
                {
                    "items": [_good(n) for n in range(BAD_ROW_AFTER_A_STORED_BATCH)]
                    + [{"external_id": "no-source"}, _good(-1)]
                }
            ).encode(),
            [f"items[{BAD_ROW_AFTER_A_STORED_BATCH}].source"],
            id="json-item-without-source",
        ),
        pytest.param(
            "application/json",
            (
                b'{"items": ['
                + b",".join(json.dumps(_good(n)).encode() for n in range(3))
                + b', {"source": {"page": 4}'
            ),
            ["items[3]"],
            id="json-cut-off",
        ),
        pytest.param(
            "application/x-ndjson",
            _ndjson([_good(n) for n in range(BAD_ROW_AFTER_A_STORED_BATCH)])
            + b'{"source": {"page": 1}\n'
            + _ndjson([_good(-1)]),
            [f"line {BAD_ROW_AFTER_A_STORED_BATCH + 1}"],
            id="ndjson-broken-json",
        ),
        pytest.param(
            "application/x-ndjson",
            _ndjson([_good(1), {"source": "a string"}, _good(3), {"source": {}, "colour": 1}]),
            ["line 2: source", "line 4: colour"],
            id="ndjson-every-bad-line-named",
        ),
        pytest.param(
            "text/csv",
            (
                "external_id,page\r\n"
                + "".join(f"scan-{n},{n}\r\n" for n in range(BAD_ROW_AFTER_A_STORED_BATCH))
                + "scan-x,1,extra\r\nscan-y,2\r\n"
            ).encode(),
            [f"line {BAD_ROW_AFTER_A_STORED_BATCH + 2}"],
            id="csv-row-with-an-extra-cell",
        ),
        pytest.param(
            "text/csv",
            b'external_id,note\r\nscan-1,"never closed\r\nscan-2,x\r\n',
            ["line 2"],
            id="csv-unclosed-quote",
        ),
        pytest.param(
            "text/csv",
            b"external_id,page,page\r\nscan-1,1,2\r\n",
            ["line 1"],
            id="csv-repeated-column",
        ),
        pytest.param(
            "text/csv",
            b"external_id,page\r\nscan-1,1\r\nscan-\xff,2\r\n",
            ["line 3"],
            id="csv-not-utf8",
        ),
        # Text PostgreSQL cannot store: a NUL, or a surrogate without its partner.
        pytest.param(
            "application/json",
            json.dumps({"items": [_good(1), {"source": {"note": "a\u0000b"}}]}).encode(),
            ["items[1].source.note"],
            id="json-nul",
        ),
        pytest.param(
            "application/x-ndjson",
            _ndjson([_good(1), {"external_id": "\ud83d", "source": {}}]),
            ["line 2"],
            id="ndjson-lone-surrogate",
        ),
        pytest.param(
            "application/x-ndjson",
            _ndjson([_good(1), {"source": {"note\u0000": "x"}}]),
            ["line 2: source.note\ufffd"],
            id="ndjson-nul-in-a-name",
        ),
        pytest.param(
            "text/csv",
            b"external_id,note\r\nscan-1,a\x00b\r\n",
            ["line 2: source.note"],
            id="csv-nul",
        ),
    ],
)
async def test_a_bad_row_rejects_the_whole_request_naming_its_place_and_stores_nothing(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
    content_type: str,
    body: bytes,
    expected: list[str],
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    await intake.post(_items_path(job_id), json={"items": [_good(0)]}, headers=headers)
    before = await _count(intake_db, job_id)
    events_before = await _announced(intake_db, job_id)

    response = await intake.post(
        _items_path(job_id),
        content=_chunked(body, 4096),
        headers={**headers, "Content-Type": content_type},
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == expected
    first = problem["detail"].removeprefix("nothing was stored: the first problem is at ")
    assert expected[0].startswith(first), problem["detail"]
    assert before == 1
    assert await _count(intake_db, job_id) == before
    assert await _announced(intake_db, job_id) == events_before


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param(
            "application/json",
            json.dumps(
                {
                    "items": [
                        _good(1),
                        {"source": {}, "golden": {"invoice_number": "A-1", "total": "ten"}},
                        {"source": {}, "golden": {"total": "10", "issued_on": "2031-02-30"}},
                        {"source": {}, "golden": {"invoice_number": "A", "total": 1, "vat": 2}},
                    ]
                }
            ).encode(),
            {
                "items[1].golden.total",
                "items[2].golden.invoice_number",
                "items[2].golden.issued_on",
                "items[3].golden.vat",
            },
            id="json",
        ),
        pytest.param(
            "application/x-ndjson",
            _ndjson(
                [
                    _good(1),
                    {"source": {}, "golden": {"invoice_number": "A-1", "total": "ten"}},
                    {"source": {}, "golden": {"total": "10", "issued_on": "2031-02-30"}},
                    {"source": {}, "golden": {"invoice_number": "A", "total": 1, "vat": 2}},
                ]
            ),
            {
                "line 2: golden.total",
                "line 3: golden.invoice_number",
                "line 3: golden.issued_on",
                "line 4: golden.vat",
            },
            id="ndjson",
        ),
        pytest.param(
            "text/csv",
            (
                b"external_id,golden.invoice_number,golden.total,golden.issued_on\r\n"
                b"scan-1,,,\r\n"
                b"scan-2,A-1,ten,\r\n"
                b"scan-3,,10,2031-02-30\r\n"
            ),
            {"line 3: golden.total", "line 4: golden.invoice_number", "line 4: golden.issued_on"},
            id="csv",
        ),
        pytest.param(
            "text/csv",
            b"external_id,golden.vat\r\nscan-1,2\r\n",
            {"line 1: golden.vat"},
            id="csv-golden-column-of-no-field",
        ),
    ],
)
async def test_golden_answer_that_breaks_the_jobs_fields_is_rejected_naming_row_and_field(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    tokens: Tokens,
    content_type: str,
    body: bytes,
    expected: set[str],
) -> None:
    headers, job_id = await _open_job(intake, tokens)

    response = await intake.post(
        _items_path(job_id), content=body, headers={**headers, "Content-Type": content_type}
    )

    problem = assert_problem(response, 422)
    assert set(error_fields(problem)) == expected
    messages = {error["field"]: error["message"] for error in problem["errors"]}
    assert messages.get("line 3: golden.invoice_number", "required") == "required"
    assert messages.get("items[3].golden.vat", "not a field of this job") == (
        "not a field of this job"
    )
    assert await _count(intake_db, job_id) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b'[{"source": {}}]', "body", id="array-not-object"),
        pytest.param(b'{"itemz": [{"source": {}}]}', "body", id="unknown-key"),
        pytest.param(b'{"items": [{"source": {}}], "more": 1}', "body", id="extra-key"),
        pytest.param(b'{"items": {"source": {}}}', "body", id="items-not-an-array"),
        pytest.param(b"{}", "body", id="no-items"),
        pytest.param(b"", "body", id="empty"),
        pytest.param(b'{"items": [{"source": {}}]} {"items": []}', "body", id="two-documents"),
        pytest.param(b'{"items": [{"source": {}}, 7]}', "items[1]", id="item-not-an-object"),
    ],
)
async def test_a_json_body_must_be_an_object_with_an_items_array(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, body: bytes, field: str
) -> None:
    headers, job_id = await _open_job(intake, tokens)

    response = await intake.post(
        _items_path(job_id), content=body, headers={**headers, "Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert await _count(intake_db, job_id) == 0


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

    (item,) = await _stored(intake_db, job["id"])
    assert item.golden == {"invoice_number": "A-1", "total": "12.5", "issued_on": "2031-01-02"}


# Who may append, and when


@pytest.mark.parametrize("status", [JobStatus.CLOSED, JobStatus.CANCELLED, JobStatus.COMPLETED])
async def test_items_cannot_be_added_to_a_job_that_is_not_open(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, status: JobStatus
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    await _set_status(intake_db, job_id, status)

    response = await intake.post(
        _items_path(job_id), content=_ndjson([_good(1)]), headers={**headers, **NDJSON}
    )

    problem = assert_problem(response, 409)
    assert problem["detail"] == (
        f"job {job_id} is {status.value}; items can be added only while a job is open"
    )
    assert await _count(intake_db, job_id) == 0


async def test_another_clients_job_is_not_found_and_gets_no_items(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    _, alices_job = await _open_job(intake, tokens)
    bob = tokens.client(await register_client(intake, tokens, "Bob Co"))
    unknown = str(new_id())

    peeking = await intake.post(_items_path(alices_job), json={"items": [_good(1)]}, headers=bob)
    missing = await intake.post(_items_path(unknown), json={"items": [_good(1)]}, headers=bob)

    assert assert_problem(peeking, 404)["detail"] == f"no job {alices_job}"
    assert assert_problem(missing, 404)["detail"] == f"no job {unknown}"
    assert await _count(intake_db, alices_job) == 0


@pytest.mark.parametrize("role", ["contractor", "manager"])
async def test_only_a_client_appends_items(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, role: str
) -> None:
    _, job_id = await _open_job(intake, tokens)
    headers = tokens.contractor(new_id()) if role == "contractor" else tokens.manager()

    response = await intake.post(_items_path(job_id), json={"items": [_good(1)]}, headers=headers)

    assert assert_problem(response, 403)["detail"] == (
        f"this needs the role client; the token has {role}"
    )
    assert await _count(intake_db, job_id) == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", None, "text/csv; charset=latin-1"],
)
async def test_items_in_another_media_type_are_refused_with_415(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, content_type: str | None
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}

    response = await intake.post(
        _items_path(job_id), content=b"external_id\r\nx\r\n", headers=headers
    )

    problem = assert_problem(response, 415)
    assert "application/json, application/x-ndjson, text/csv" in problem["detail"] or (
        problem["detail"] == "send items in UTF-8"
    )
    assert await _count(intake_db, job_id) == 0


async def test_media_type_parameters_and_case_are_accepted(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)

    response = await intake.post(
        _items_path(job_id),
        content=b"external_id\r\nx\r\n",
        headers={**headers, "Content-Type": 'Text/CSV; charset="UTF-8"; header=present'},
    )

    assert response.status_code == 202, response.text
    assert await _count(intake_db, job_id) == 1


# Idempotency of a streamed append


async def test_replaying_a_streamed_append_returns_the_first_answer_and_stores_items_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    headers = {**headers, **NDJSON, "Idempotency-Key": f"append-{new_id()}"}
    body = _ndjson([_good(n) for n in range(1500)])

    first = await intake.post(_items_path(job_id), content=_chunked(body, 1000), headers=headers)
    # The same bytes cut into other chunks are the same body.
    replay = await intake.post(_items_path(job_id), content=_chunked(body, 333), headers=headers)

    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert replay.status_code == 202, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json() == {"accepted": 1500}
    assert await _count(intake_db, job_id) == 1500
    assert sum(len(batch) for batch in await _announced(intake_db, job_id)) == 1500


async def test_the_same_key_with_another_streamed_body_is_rejected_and_stores_nothing(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    headers = {**headers, **NDJSON, "Idempotency-Key": f"append-{new_id()}"}
    await intake.post(_items_path(job_id), content=_ndjson([_good(1)]), headers=headers)

    response = await intake.post(
        _items_path(job_id), content=_chunked(_ndjson([_good(1), _good(2)])), headers=headers
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["Idempotency-Key"]
    assert await _count(intake_db, job_id) == 1


async def test_a_failed_append_leaves_its_key_free_for_the_corrected_request(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    headers = {**headers, **NDJSON, "Idempotency-Key": f"append-{new_id()}"}

    rejected = await intake.post(
        _items_path(job_id), content=b'{"source": {}}\n{"source": 1}\n', headers=headers
    )
    corrected = await intake.post(
        _items_path(job_id), content=b'{"source": {}}\n{"source": {}}\n', headers=headers
    )

    assert_problem(rejected, 422)
    assert corrected.status_code == 202, corrected.text
    assert "Idempotent-Replayed" not in corrected.headers
    assert await _count(intake_db, job_id) == 2


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
            _items_path(job["id"]), content=_ndjson([_good(1)]), headers=headers
        )

    problem = assert_problem(busy, 409)
    assert "still being processed" in problem["detail"]
    assert await _count(intake_db, job["id"]) == 0


# Listing items


async def test_a_jobs_items_are_listed_in_pages_and_filtered_by_status(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id = await _open_job(intake, tokens)
    await intake.post(
        _items_path(job_id),
        content=_ndjson([_good(n) for n in range(5)]),
        headers={**headers, **NDJSON},
    )
    stored = await _stored(intake_db, job_id)
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Item)
            .where(Item.id.in_([stored[1].id, stored[3].id]))
            .values(status=ItemStatus.REJECTED)
        )

    first = await intake.get(_items_path(job_id), params={"limit": 3}, headers=headers)
    second = await intake.get(
        _items_path(job_id),
        params={"limit": 3, "cursor": first.json()["next_cursor"]},
        headers=headers,
    )
    rejected = await intake.get(_items_path(job_id), params={"status": "rejected"}, headers=headers)

    assert first.status_code == second.status_code == rejected.status_code == 200
    assert first.json()["data"][0] == {
        "id": str(stored[0].id),
        "job_id": job_id,
        "external_id": "scan-0",
        "status": "pending",
        "source": {"page": 0},
        "result": None,
        "completed_at": None,
        "flagged_reason": None,
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
    headers, job_id = await _open_job(intake, tokens)
    await intake.post(_items_path(job_id), json={"items": [_good(1)]}, headers=headers)
    bob = tokens.client(await register_client(intake, tokens, "Bob Co"))

    bad_status = await intake.get(_items_path(job_id), params={"status": "done"}, headers=headers)
    peeking = await intake.get(_items_path(job_id), headers=bob)
    contractor = await intake.get(_items_path(job_id), headers=tokens.contractor(new_id()))
    manager = await intake.get(_items_path(job_id), headers=tokens.manager())

    assert error_fields(assert_problem(bad_status, 422)) == ["status"]
    assert assert_problem(peeking, 404)["detail"] == f"no job {job_id}"
    assert_problem(contractor, 403)
    assert manager.status_code == 200, manager.text
    assert [item["external_id"] for item in manager.json()["data"]] == ["scan-1"]
