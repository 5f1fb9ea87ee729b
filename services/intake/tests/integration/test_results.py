"""Clients and managers read the results of a job's completed items as JSON, NDJSON or CSV."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.models import Item
from bpo_intake.service.items import RESULTS_PER_FETCH

from .conftest import create_job, register_client

DONE_AT = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)

# A client's headers, its job's id and the ids of the job's items.
JobItems = tuple[dict[str, str], str, list[UUID]]


async def _job_with_items(
    intake: httpx.AsyncClient, tokens: Tokens, external_ids: list[str | None]
) -> JobItems:
    """A client's headers, its job (invoice_number, total, issued_on) and the item ids,
    in the order given."""
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)
    headers = tokens.client(client_id)
    items = [
        {"external_id": external_id, "source": {"n": n}}
        for n, external_id in enumerate(external_ids)
    ]
    appended = await intake.post(
        f"/v1/jobs/{job['id']}/items", json={"items": items}, headers=headers
    )
    assert appended.status_code == 202, appended.text
    listed = await intake.get(f"/v1/jobs/{job['id']}/items", params={"limit": 500}, headers=headers)
    return headers, job["id"], [UUID(item["id"]) for item in listed.json()["data"]]


async def _finish(
    sessions: SessionFactory,
    item_id: UUID,
    result: dict[str, Any] | None,
    status: ItemStatus = ItemStatus.COMPLETED,
) -> None:
    """Set an item's outcome as the QC flow would."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Item)
            .where(Item.id == item_id)
            .values(status=status, result=result, completed_at=DONE_AT)
        )


async def _results(
    intake: httpx.AsyncClient, job_id: str, headers: dict[str, str], accept: str | None
) -> httpx.Response:
    if accept is not None:
        headers = {**headers, "Accept": accept}
    return await intake.get(f"/v1/jobs/{job_id}/results", headers=headers)


async def _results_in(
    intake: httpx.AsyncClient, job: JobItems, accept: str | None, media_type: str
) -> httpx.Response:
    """The job's results as Accept asks, checked to come whole in `media_type`."""
    headers, job_id, _ = job
    response = await _results(intake, job_id, headers, accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    return response


@pytest.fixture
async def finished_job(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> JobItems:
    """Five items: three completed (with cells a spreadsheet would run as formulas), one
    still pending, one rejected."""
    headers, job_id, ids = await _job_with_items(
        intake, tokens, ["inv-1", None, "=cmd|' /C calc'!A0", "inv-4", "inv-5"]
    )
    await _finish(
        intake_db,
        ids[0],
        {
            "invoice_number": '=HYPERLINK("http://x.example")',
            "total": "-5",
            "issued_on": "2031-01-02",
        },
    )
    await _finish(
        intake_db, ids[1], {"invoice_number": "@SUM(A1)", "total": "+3", "issued_on": None}
    )
    await _finish(
        intake_db,
        ids[2],
        {"invoice_number": "\tTAB", "total": "1234.5", "issued_on": None, "note": "not a field"},
    )
    await _finish(intake_db, ids[3], {"invoice_number": "\rCR", "total": "1"}, ItemStatus.REJECTED)
    return headers, job_id, ids


async def test_results_as_json_are_an_array_of_the_completed_items_in_order(
    intake: httpx.AsyncClient, finished_job: JobItems
) -> None:
    _, _, ids = finished_job

    response = await _results_in(intake, finished_job, "application/json", "application/json")

    assert response.headers["vary"] == "Accept"
    assert response.json() == [
        {
            "item_id": str(ids[0]),
            "external_id": "inv-1",
            "completed_at": "2031-03-04T05:06:07Z",
            "documents": [],
            "data": {
                "invoice_number": '=HYPERLINK("http://x.example")',
                "total": "-5",
                "issued_on": "2031-01-02",
            },
        },
        {
            "item_id": str(ids[1]),
            "external_id": None,
            "completed_at": "2031-03-04T05:06:07Z",
            "documents": [],
            "data": {"invoice_number": "@SUM(A1)", "total": "+3", "issued_on": None},
        },
        {
            "item_id": str(ids[2]),
            "external_id": "=cmd|' /C calc'!A0",
            "completed_at": "2031-03-04T05:06:07Z",
            "documents": [],
            "data": {"invoice_number": "\tTAB", "total": "1234.5", "issued_on": None},
        },
    ]


async def test_results_as_ndjson_are_one_completed_item_a_line(
    intake: httpx.AsyncClient, finished_job: JobItems
) -> None:
    _, _, ids = finished_job
    ndjson = "application/x-ndjson"

    response = await _results_in(intake, finished_job, ndjson, ndjson)

    assert response.text == (
        f'{{"item_id":"{ids[0]}","external_id":"inv-1","completed_at":"2031-03-04T05:06:07Z",'
        '"documents":[],"data":{"invoice_number":"=HYPERLINK(\\"http://x.example\\")","total":"-5",'
        '"issued_on":"2031-01-02"}}\n'
        f'{{"item_id":"{ids[1]}","external_id":null,"completed_at":"2031-03-04T05:06:07Z",'
        '"documents":[],"data":{"invoice_number":"@SUM(A1)","total":"+3","issued_on":null}}\n'
        f'{{"item_id":"{ids[2]}","external_id":"=cmd|\' /C calc\'!A0",'
        '"completed_at":"2031-03-04T05:06:07Z",'
        '"documents":[],"data":{"invoice_number":"\\tTAB","total":"1234.5","issued_on":null}}\n'
    )


async def test_results_as_csv_have_the_jobs_fields_as_columns_and_formulas_defused(
    intake: httpx.AsyncClient, finished_job: JobItems
) -> None:
    _, job_id, ids = finished_job

    response = await _results_in(intake, finished_job, "text/csv", "text/csv; charset=utf-8")

    assert response.headers["content-disposition"] == (
        f'attachment; filename="job-{job_id}-results.csv"'
    )
    assert response.text == (
        "item_id,external_id,invoice_number,total,issued_on\r\n"
        f'{ids[0]},inv-1,"\'=HYPERLINK(""http://x.example"")",-5,2031-01-02\r\n'
        f"{ids[1]},,'@SUM(A1),+3,\r\n"
        f"{ids[2]},'=cmd|' /C calc'!A0,'\tTAB,1234.5,\r\n"
    )


async def test_csv_cells_starting_with_a_carriage_return_are_defused_too(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    headers, job_id, (item_id,) = await _job_with_items(intake, tokens, ["-1"])
    await _finish(intake_db, item_id, {"invoice_number": "\rX", "total": "0", "issued_on": None})

    response = await _results(intake, job_id, headers, "text/csv")

    assert response.text == (
        f'item_id,external_id,invoice_number,total,issued_on\r\n{item_id},-1,"\'\rX",0,\r\n'
    )


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("text/*", "text/csv; charset=utf-8"),
        ("text/html, text/csv;q=0.8, application/json;q=0.5", "text/csv; charset=utf-8"),
        ("application/json;q=0.1, application/x-ndjson", "application/x-ndjson"),
        ("application/json;q=0, */*;q=0.5", "application/x-ndjson"),
    ],
)
async def test_the_format_is_the_one_accept_prefers(
    intake: httpx.AsyncClient, finished_job: JobItems, accept: str | None, media_type: str
) -> None:
    await _results_in(intake, finished_job, accept, media_type)


@pytest.mark.parametrize(
    "accept", ["application/xml", "text/html, image/png", "application/json;q=0"]
)
async def test_a_format_the_api_does_not_produce_is_not_acceptable(
    intake: httpx.AsyncClient, tokens: Tokens, accept: str
) -> None:
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)

    response = await _results(intake, job["id"], tokens.client(client_id), accept)

    problem = assert_problem(response, 406)
    assert problem["detail"] == (
        "results come as application/json, application/x-ndjson, text/csv; Accept allows none"
    )


@pytest.mark.parametrize(
    ("accept", "body"),
    [
        ("application/json", "[]\n"),
        ("application/x-ndjson", ""),
        ("text/csv", "item_id,external_id,invoice_number,total,issued_on\r\n"),
    ],
)
async def test_a_job_without_completed_items_has_empty_results(
    intake: httpx.AsyncClient, tokens: Tokens, accept: str, body: str
) -> None:
    headers, job_id, _ = await _job_with_items(intake, tokens, ["pending-1"])

    response = await _results(intake, job_id, headers, accept)

    assert response.status_code == 200, response.text
    assert response.text == body


async def test_results_longer_than_one_fetch_come_whole_and_in_order(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    count = 2 * RESULTS_PER_FETCH + 7
    headers, job_id, _ = await _job_with_items(intake, tokens, [f"scan-{n}" for n in range(count)])
    async with intake_db() as session, session.begin():
        await session.execute(
            update(Item)
            .where(Item.job_id == UUID(job_id))
            .values(
                status=ItemStatus.COMPLETED,
                result={"invoice_number": "A", "total": "1", "issued_on": None},
                completed_at=DONE_AT,
            )
        )
        ids = [
            str(i)
            for i in await session.scalars(
                select(Item.id).where(Item.job_id == UUID(job_id)).order_by(Item.id)
            )
        ]

    as_json = await _results(intake, job_id, headers, "application/json")
    as_ndjson = await _results(intake, job_id, headers, "application/x-ndjson")
    as_csv = await _results(intake, job_id, headers, "text/csv")

    assert [row["item_id"] for row in as_json.json()] == ids
    assert [json.loads(line)["item_id"] for line in as_ndjson.text.splitlines()] == ids
    assert [line.split(",")[0] for line in as_csv.text.splitlines()[1:]] == ids


async def test_results_are_for_the_owner_and_managers_only(
    intake: httpx.AsyncClient, finished_job: JobItems, tokens: Tokens
) -> None:
    headers, job_id, _ = finished_job
    bob = tokens.client(await register_client(intake, tokens, "Bob Co"))

    owner = await _results(intake, job_id, headers, "application/json")
    manager = await _results(intake, job_id, tokens.manager(), "application/json")
    peeking = await _results(intake, job_id, bob, "text/csv")
    contractor = await _results(intake, job_id, tokens.contractor(new_id()), "text/csv")
    missing = await _results(intake, str(new_id()), headers, "text/csv")

    assert manager.status_code == 200, manager.text
    assert manager.json() == owner.json()
    assert assert_problem(peeking, 404)["detail"] == f"no job {job_id}"
    assert assert_problem(contractor, 403)["detail"] == (
        "this needs the role client, manager; the token has contractor"
    )
    assert_problem(missing, 404)
