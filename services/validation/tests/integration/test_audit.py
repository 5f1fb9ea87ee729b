"""Validation's audit trail: a client's reference data, uploaded and deleted, is recorded as
counts, never as the rows; refusals with their status; contractors not at all."""

import httpx

from bpo_common.auth import MANAGE_KEYS, KeyScope, Role, Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.audit import (
    assert_append_only,
    assert_nowhere_in_the_trail,
    assert_only_admins_read_the_trail,
    assert_the_trail_reads_back,
    audit_rows,
)
from bpo_devtools.testing import Tokens, assert_problem

DATASET = "/v1/reference-datasets/{name}"
CSV = "id,holder,iban\nV-1,SECRET-VALUE,DE89370400440532013000\nV-2,Globex,\n"


async def test_reference_data_is_recorded_as_counts_never_as_rows(
    validation: httpx.AsyncClient, validation_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = new_id()
    subject = f"client-user-{new_id()}"
    headers = tokens.headers(Role.CLIENT, subject, client_id) | {"X-Correlation-ID": "audit-v-1"}
    name = f"vendors-{new_id()}"
    path = f"/v1/reference-datasets/{name}"
    uploaded = await validation.put(
        path, params={"key": "id"}, content=CSV, headers=headers | {"Content-Type": "text/csv"}
    )
    assert uploaded.status_code == 200, uploaded.text
    deleted = await validation.delete(path, headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert_problem(await validation.delete(path, headers=headers), 404)
    checked = await validation.post(
        "/v1/check",
        json={"fields": [{"name": "holder", "type": "string"}], "data": {"holder": "SECRET-2"}},
        headers=headers,
    )
    assert checked.status_code == 200, checked.text

    rows = await audit_rows(validation_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id, row.summary) for row in rows] == [
        (f"PUT {DATASET}", 200, name, {"rows": 2, "columns": 3}),
        (f"DELETE {DATASET}", 204, name, {}),
        (f"DELETE {DATASET}", 404, name, {}),
        ("POST /v1/check", 200, None, {}),
    ]
    for row in rows:
        assert (row.role, row.client_id, row.address) == (Role.CLIENT, client_id, "127.0.0.1")
        assert row.correlation_id == "audit-v-1"
        # A client's own token (no scope claim) may do all a client may.
        assert row.scopes == sorted([*KeyScope, MANAGE_KEYS])
    for value in ("SECRET-VALUE", "DE89370400440532013000", "SECRET-2"):
        await assert_nowhere_in_the_trail(validation_db, value)


async def test_refusals_are_recorded_and_contractors_are_not(
    validation: httpx.AsyncClient, validation_db: SessionFactory, tokens: Tokens
) -> None:
    subject = f"ops-{new_id()}"
    ops = tokens.headers(Role.MANAGER, subject, scopes=[Scope.OPS])
    name = f"vendors-{new_id()}"
    # Reference data is the client's own to upload; a manager is refused.
    refused = await validation.put(
        f"/v1/reference-datasets/{name}",
        params={"key": "id"},
        content=CSV,
        headers=ops | {"Content-Type": "text/csv"},
    )
    assert_problem(refused, 403)
    unknown = new_id()
    resolve = await validation.post(
        f"/v1/exceptions/{unknown}/resolve", json={"action": "accept"}, headers=ops
    )
    assert_problem(resolve, 404)
    contractor = new_id()
    checked = await validation.post(
        "/v1/check",
        json={"fields": [{"name": "total", "type": "decimal"}], "data": {"total": "1"}},
        headers=tokens.contractor(contractor),
    )
    assert checked.status_code == 200, checked.text

    rows = await audit_rows(validation_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id) for row in rows] == [
        (f"PUT {DATASET}", 403, name),
        ("POST /v1/exceptions/{exception_id}/resolve", 404, str(unknown)),
    ]
    assert await audit_rows(validation_db, actor=str(contractor)) == []

    await assert_append_only(validation_db)
    await assert_only_admins_read_the_trail(validation, tokens)
    await assert_the_trail_reads_back(validation, tokens, rows)
