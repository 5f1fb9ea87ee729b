"""One bad row of an append: a 422 naming its place, and nothing of the request stored."""

import json

import httpx
import pytest

from bpo_common.db import SessionFactory
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)
from bpo_intake.domain.jobs import ITEMS_PER_EVENT

from .appending import (
    announced_items,
    good_item,
    in_chunks,
    item_count,
    items_path,
    ndjson_body,
    open_job,
)

BAD_ROW_AFTER_A_STORED_BATCH = ITEMS_PER_EVENT + 200


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param(
            "application/json",
            json.dumps(
                {
                    "items": [good_item(n) for n in range(BAD_ROW_AFTER_A_STORED_BATCH)]
                    + [{"external_id": "no-source"}, good_item(-1)]
                }
            ).encode(),
            [f"items[{BAD_ROW_AFTER_A_STORED_BATCH}].source"],
            id="json-item-without-source",
        ),
        pytest.param(
            "application/json",
            (
                b'{"items": ['
                + b",".join(json.dumps(good_item(n)).encode() for n in range(3))
                + b', {"source": {"page": 4}'
            ),
            ["items[3]"],
            id="json-cut-off",
        ),
        pytest.param(
            "application/x-ndjson",
            ndjson_body([good_item(n) for n in range(BAD_ROW_AFTER_A_STORED_BATCH)])
            + b'{"source": {"page": 1}\n'
            + ndjson_body([good_item(-1)]),
            [f"line {BAD_ROW_AFTER_A_STORED_BATCH + 1}"],
            id="ndjson-broken-json",
        ),
        pytest.param(
            "application/x-ndjson",
            ndjson_body(
                [good_item(1), {"source": "a string"}, good_item(3), {"source": {}, "colour": 1}]
            ),
            ["line 2: source", "line 4: colour"],
            id="ndjson-every-bad-line-named",
        ),
        # A batch's unknown documents are found as it is stored, after a later row's problem.
        pytest.param(
            "application/x-ndjson",
            ndjson_body(
                [good_item(n) for n in range(1, 5)]
                + [{"source": {}, "documents": ["missing.pdf"]}]
                + [good_item(n) for n in range(6, 900)]
                + [{"source": {}, "golden": {"invoice_number": "A", "total": "x"}}]
                + [good_item(n) for n in range(901, 1001)]
            ),
            ["line 5: documents[0]", "line 900: golden.total"],
            id="ndjson-problems-in-body-order",
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
            json.dumps({"items": [good_item(1), {"source": {"note": "a\u0000b"}}]}).encode(),
            ["items[1].source.note"],
            id="json-nul",
        ),
        pytest.param(
            "application/x-ndjson",
            ndjson_body([good_item(1), {"external_id": "\ud83d", "source": {}}]),
            ["line 2: external_id"],
            id="ndjson-lone-surrogate",
        ),
        pytest.param(
            "application/x-ndjson",
            ndjson_body([good_item(1), {"source": {"note\u0000": "x"}}]),
            ["line 2: source.note\ufffd"],
            id="ndjson-nul-in-a-name",
        ),
        pytest.param(
            "text/csv",
            b"external_id,note\r\nscan-1,a\x00b\r\n",
            ["line 2: source.note"],
            id="csv-nul",
        ),
        # JSON the database would refuse later, or parsers read differently.
        # An NDJSON line names the member; the streamed JSON body, the item.
        *(
            pytest.param(
                media,
                body,
                [place],
                id=f"{media.rsplit('/', 1)[1]}-{name}",
            )
            for name, text, member in (
                ("nan", '{"source": {"total": NaN}}', "source.total"),
                ("beyond-a-double", '{"source": {"total": 1e400}}', "source.total"),
                ("key-twice", '{"source": {"total": 1, "total": 2}}', "source.total"),
                (
                    "nested-deep",
                    '{"source": {"a": ' + "[" * 100 + "]" * 100 + "}}",
                    "source.a" + "[0]" * 62,
                ),
            )
            for media, body, place in (
                (
                    "application/x-ndjson",
                    b'{"source": {}}\n' + text.encode() + b"\n",
                    f"line 2: {member}",
                ),
                (
                    "application/json",
                    b'{"items": [{"source": {}}, ' + text.encode() + b"]}",
                    "items[1]",
                ),
            )
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
    headers, job_id = await open_job(intake, tokens)
    await intake.post(items_path(job_id), json={"items": [good_item(0)]}, headers=headers)
    before = await item_count(intake_db, job_id)
    events_before = await announced_items(intake_db, job_id)

    response = await intake.post(
        items_path(job_id),
        content=in_chunks(body, 4096),
        headers={**headers, "Content-Type": content_type},
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == expected
    first = problem["detail"].removeprefix("nothing was stored: the first problem is at ")
    assert expected[0].startswith(first), problem["detail"]
    assert before == 1
    assert await item_count(intake_db, job_id) == before
    assert await announced_items(intake_db, job_id) == events_before


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        pytest.param(
            "application/json",
            json.dumps(
                {
                    "items": [
                        good_item(1),
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
            ndjson_body(
                [
                    good_item(1),
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
    headers, job_id = await open_job(intake, tokens)

    response = await intake.post(
        items_path(job_id), content=body, headers={**headers, "Content-Type": content_type}
    )

    problem = assert_problem(response, 422)
    assert set(error_fields(problem)) == expected
    messages = {error["field"]: error["message"] for error in problem["errors"]}
    assert messages.get("line 3: golden.invoice_number", "required") == "required"
    assert messages.get("items[3].golden.vat", "not a field of this job") == (
        "not a field of this job"
    )
    assert await item_count(intake_db, job_id) == 0


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
    headers, job_id = await open_job(intake, tokens)

    response = await intake.post(
        items_path(job_id), content=body, headers={**headers, "Content-Type": "application/json"}
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == [field]
    assert await item_count(intake_db, job_id) == 0
