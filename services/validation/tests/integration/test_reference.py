"""Reference datasets: uploaded whole as CSV or NDJSON, replaced atomically, one client's own."""

from uuid import UUID

import httpx
import pytest

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields

VENDORS_CSV = 'id,name,iban\nV-1,ACME,"DE89 3704 0044 0532 0130 00"\n v-2 ,Globex,\n'


async def _put(
    validation: httpx.AsyncClient,
    tokens: Tokens,
    client_id: UUID,
    body: str,
    *,
    name: str = "vendors",
    key: str = "id",
    media_type: str = "text/csv",
) -> httpx.Response:
    return await validation.put(
        f"/v1/reference-datasets/{name}",
        params={"key": key},
        content=body,
        headers={**tokens.client(client_id), "Content-Type": media_type},
    )


async def test_a_client_uploads_a_csv_dataset_and_finds_rows_by_key(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    uploaded = await _put(validation, tokens, client_id, VENDORS_CSV)
    body = uploaded.json()
    assert (body["name"], body["key_column"], body["columns"], body["row_count"]) == (
        "vendors",
        "id",
        ["id", "name", "iban"],
        2,
    )
    row = await validation.get(
        "/v1/reference-datasets/vendors/rows/V-2", headers=tokens.client(client_id)
    )
    assert row.json() == {"id": " v-2 ", "name": "Globex", "iban": ""}
    listed = await validation.get("/v1/reference-datasets", headers=tokens.client(client_id))
    assert [d["name"] for d in listed.json()] == ["vendors"]


async def test_a_row_whose_key_has_slashes_is_found_by_its_key_escaped_in_the_path(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    orders = '{"po": "PO/2024/1", "total": "10"}\n{"po": "PO/2024/2", "total": "20"}\n'
    await _put(validation, tokens, client_id, orders, name="orders", key="po",
               media_type="application/x-ndjson")  # fmt: skip
    for key, total in (("PO%2F2024%2F1", "10"), ("po/2024/2", "20")):
        row = await validation.get(
            f"/v1/reference-datasets/orders/rows/{key}", headers=tokens.client(client_id)
        )
        assert row.status_code == 200, (key, row.text)
        assert row.json()["total"] == total


async def test_an_upload_replaces_the_dataset_and_a_bad_one_leaves_it_as_it_was(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    await _put(validation, tokens, client_id, VENDORS_CSV)
    ndjson = '{"id": "V-3", "name": "Initech", "limit": 1000.50}\n\n{"id": "V-4"}\n'
    replaced = await _put(validation, tokens, client_id, ndjson, media_type="application/x-ndjson")
    assert (replaced.json()["columns"], replaced.json()["row_count"]) == (
        ["id", "name", "limit"],
        2,
    )
    gone = await validation.get(
        "/v1/reference-datasets/vendors/rows/V-1", headers=tokens.client(client_id)
    )
    assert_problem(gone, 404)
    kept = await validation.get(
        "/v1/reference-datasets/vendors/rows/v-3", headers=tokens.client(client_id)
    )
    assert kept.json() == {"id": "V-3", "name": "Initech", "limit": "1000.50"}

    bad = await _put(validation, tokens, client_id, "id,name\nV-9,Umbrella\nV-9,Again\n")
    problem = assert_problem(bad, 422)
    assert problem["errors"] == [
        {"field": "line 3", "message": "key V-9 repeats line 2 (case and spaces ignored)"}
    ]
    still = await validation.get("/v1/reference-datasets/vendors", headers=tokens.client(client_id))
    assert still.json()["row_count"] == 2


@pytest.mark.parametrize(
    ("body", "media_type", "key", "fields"),
    [
        ("name,iban\nACME,\n", "text/csv", "id", ["key"]),
        ("id,id\nV-1,V-2\n", "text/csv", "id", ["line 1"]),
        ("id,name\nV-1\nV-2,ok\n,empty\n", "text/csv", "id", ["line 2", "line 4"]),
        ('id,name\nV-1,"open\n', "text/csv", "id", ["line 2"]),
        ('{"id": "V-1"}\n{"id": \n[1]\n{"id": {"a": 1}}\n', "application/x-ndjson", "id",
         ["line 2", "line 3", "line 4"]),
        ("id\n", "text/csv", "id", ["body"]),
        ("", "text/csv", "id", ["body"]),
        ('"id"x,name\n', "text/csv", "id", ["line 1"]),
        ("id,name\nV-1,a\x00b\nV-2,ok\n", "text/csv", "id", ["line 2"]),
        ("id,na\x00me\nV-1,x\n", "text/csv", "id", ["line 1"]),
        ('{"id": "V-1", "name": "\\ud83d"}\n', "application/x-ndjson", "id", ["line 1"]),
        ('{"id": "V-1", "limit": NaN}\n{"id": "V-2", "id": "V-3"}\n', "application/x-ndjson", "id",
         ["line 1", "line 2"]),
        # UTF-16 without its BOM: the same bytes, each ASCII character followed by a NUL.
        ('{"id": "V-1"}\n{"id": "V-2"}\n'.encode("utf-16-le").decode(), "application/x-ndjson",
         "id", ["line 1", "line 2", "line 3"]),
    ],
    ids=["no-key-column", "repeated-column", "short-row-and-empty-key", "open-quote",
         "bad-ndjson-lines", "no-rows", "empty", "broken-header", "nul-in-a-cell",
         "nul-in-a-column-name", "lone-surrogate", "nan-and-a-key-twice", "utf-16-without-bom"],
)  # fmt: skip
async def test_a_bad_dataset_is_a_422_naming_the_line_and_nothing_is_stored(
    validation: httpx.AsyncClient,
    tokens: Tokens,
    body: str,
    media_type: str,
    key: str,
    fields: list[str],
) -> None:
    client_id = new_id()
    response = await _put(validation, tokens, client_id, body, key=key, media_type=media_type)
    assert error_fields(assert_problem(response, 422)) == fields
    listed = await validation.get("/v1/reference-datasets", headers=tokens.client(client_id))
    assert listed.json() == []


async def test_a_dataset_in_another_format_or_under_a_bad_name_is_refused(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    wrong_type = await _put(validation, tokens, client_id, VENDORS_CSV, media_type="text/plain")
    assert "text/csv or application/x-ndjson" in assert_problem(wrong_type, 415)["detail"]
    bad_name = await _put(validation, tokens, client_id, VENDORS_CSV, name="Vendors List")
    assert error_fields(assert_problem(bad_name, 422)) == ["name"]


async def test_datasets_are_a_clients_own(validation: httpx.AsyncClient, tokens: Tokens) -> None:
    owner, other = new_id(), new_id()
    await _put(validation, tokens, owner, VENDORS_CSV)
    for path in ("/v1/reference-datasets/vendors", "/v1/reference-datasets/vendors/rows/V-1"):
        assert_problem(await validation.get(path, headers=tokens.client(other)), 404)
    assert (
        await validation.get("/v1/reference-datasets", headers=tokens.client(other))
    ).json() == []
    managers_view = await validation.get("/v1/reference-datasets", headers=tokens.manager())
    assert str(owner) in {d["client_id"] for d in managers_view.json()}
    contractor = await validation.get("/v1/reference-datasets", headers=tokens.contractor(new_id()))
    assert_problem(contractor, 403)

    deleted = await validation.delete(
        "/v1/reference-datasets/vendors", headers=tokens.client(owner)
    )
    assert deleted.status_code == 204
    assert (
        await validation.get("/v1/reference-datasets", headers=tokens.client(owner))
    ).json() == []
