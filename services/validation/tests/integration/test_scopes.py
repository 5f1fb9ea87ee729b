"""Scopes within a role on validation: operations managers read decisions and quality; an API
key's token reads decisions with results:read and changes work with jobs:write."""

from uuid import UUID

import httpx

from bpo_common.auth import KeyScope, Scope
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem


async def test_decisions_and_quality_are_for_operations_managers(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    item_id, contractor_id = new_id(), new_id()

    allowed = await validation.get(
        f"/v1/items/{item_id}/decision", headers=tokens.manager(Scope.OPS)
    )
    assert assert_problem(allowed, 404)["detail"].startswith("no decision")
    refused = await validation.get(
        f"/v1/items/{item_id}/decision", headers=tokens.manager(Scope.FINANCE, Scope.ADMIN)
    )
    assert assert_problem(refused, 403)["detail"] == (
        "this needs the scope ops; the token has admin, finance"
    )
    quality = await validation.get(
        f"/v1/contractors/{contractor_id}/quality", headers=tokens.manager(Scope.FINANCE)
    )
    assert assert_problem(quality, 403)["detail"] == (
        "this needs the scope ops; the token has finance"
    )
    own = await validation.get(
        f"/v1/contractors/{contractor_id}/quality", headers=tokens.contractor(contractor_id)
    )
    assert own.json()["contractor_id"] == str(contractor_id)


async def test_an_api_keys_token_reads_and_resolves_with_the_scopes_for_it(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = UUID(int=41)
    reader = tokens.api_key(client_id, KeyScope.RESULTS_READ)
    writer = tokens.api_key(client_id, KeyScope.JOBS_WRITE)
    biller = tokens.api_key(client_id, KeyScope.INVOICES_READ)

    decision = await validation.get(f"/v1/items/{new_id()}/decision", headers=reader)
    assert_problem(decision, 404)
    not_reader = await validation.get(f"/v1/items/{new_id()}/decision", headers=writer)
    assert assert_problem(not_reader, 403)["detail"] == (
        "this needs the scope results:read; the token has jobs:write"
    )
    listed = await validation.get("/v1/exceptions", headers=reader)
    assert listed.json() == {"data": [], "next_cursor": None}
    resolved = await validation.post(
        f"/v1/exceptions/{new_id()}/resolve", json={"action": "accept"}, headers=reader
    )
    assert assert_problem(resolved, 403)["detail"] == (
        "this needs the scope jobs:write; the token has results:read"
    )
    uploaded = await validation.put(
        "/v1/reference-datasets/vendors",
        params={"key": "id"},
        content="id,name\nV-1,ACME\n",
        headers=writer | {"Content-Type": "text/csv"},
    )
    assert uploaded.json()["row_count"] == 1
    row = await validation.get("/v1/reference-datasets/vendors/rows/V-1", headers=reader)
    assert row.json() == {"id": "V-1", "name": "ACME"}
    hidden = await validation.get("/v1/reference-datasets/vendors/rows/V-1", headers=biller)
    assert assert_problem(hidden, 403)["detail"] == (
        "this needs the scope jobs:write or results:read; the token has invoices:read"
    )
