"""Scopes within a role: a manager's areas (ops, admin here), and what an API key's token may
do for its client; a missing scope is a 403 that names it."""

from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest

from bpo_common.auth import KeyScope, Scope
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, assert_problem, serve
from bpo_intake.app import create_app
from bpo_intake.settings import Settings

from .conftest import create_job, register_client


@pytest.fixture(scope="module")
async def production(stack: TestStack) -> AsyncIterator[httpx.AsyncClient]:
    """Intake as production runs it: a manager's token must carry its scopes."""
    settings = stack.settings(Settings, "intake", manager_unscoped=False)
    async with serve(create_app(settings)) as client:
        yield client


async def test_ops_and_admin_managers_each_do_their_own_work(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    contractor = {"name": "Scoped Keyer", "skills": ["qc"]}
    as_ops = await intake.post(
        "/v1/contractors", json=contractor, headers=tokens.manager(Scope.OPS)
    )
    assert as_ops.status_code == 201, as_ops.text
    as_finance = await intake.post(
        "/v1/contractors", json=contractor, headers=tokens.manager(Scope.FINANCE)
    )
    assert assert_problem(as_finance, 403)["detail"] == (
        "this needs the scope ops; the token has finance"
    )
    seen = await intake.get(
        f"/v1/contractors/{as_ops.json()['id']}", headers=tokens.manager(Scope.ADMIN)
    )
    assert assert_problem(seen, 403)["detail"] == "this needs the scope ops; the token has admin"

    client_id = await register_client(intake, tokens, "Hooked Ltd")
    hook = {"webhook_url": "https://hooks.example.com/bpo"}
    by_ops = await intake.put(
        f"/v1/clients/{client_id}/webhook", json=hook, headers=tokens.manager(Scope.OPS)
    )
    assert assert_problem(by_ops, 403)["detail"] == "this needs the scope admin; the token has ops"
    by_admin = await intake.put(
        f"/v1/clients/{client_id}/webhook", json=hook, headers=tokens.manager(Scope.ADMIN)
    )
    assert by_admin.json() == {"client_id": str(client_id), "webhook_url": hook["webhook_url"]}


async def test_a_manager_without_scopes_does_everything_only_where_settings_allow_it(
    intake: httpx.AsyncClient, production: httpx.AsyncClient, tokens: Tokens
) -> None:
    allowed = await intake.get("/v1/contractors", headers=tokens.manager())
    assert allowed.status_code == 200, allowed.text

    refused = await production.get("/v1/contractors", headers=tokens.manager())
    assert assert_problem(refused, 403)["detail"] == "this needs the scope ops; the token has none"
    scoped = await production.get("/v1/contractors", headers=tokens.manager(*Scope))
    assert scoped.status_code == 200, scoped.text


async def test_an_api_keys_token_writes_and_reads_only_with_the_scopes_for_it(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Integrated Ltd")
    job = await create_job(intake, tokens, client_id)
    writer = tokens.api_key(client_id, KeyScope.JOBS_WRITE)
    reader = tokens.api_key(client_id, KeyScope.RESULTS_READ)
    biller = tokens.api_key(client_id, KeyScope.INVOICES_READ)

    created = await intake.post("/v1/jobs", json={}, headers=reader)
    assert assert_problem(created, 403)["detail"] == (
        "this needs the scope jobs:write; the token has results:read"
    )
    items = await intake.get(f"/v1/jobs/{job['id']}/items", headers=writer)
    assert assert_problem(items, 403)["detail"] == (
        "this needs the scope results:read; the token has jobs:write"
    )
    results = await intake.get(f"/v1/jobs/{job['id']}/results", headers=reader)
    assert (results.status_code, results.json()) == (200, [])
    # A job is followed by the key that sends it and the one that reads its results.
    for headers in (writer, reader):
        shown = await intake.get(f"/v1/jobs/{job['id']}", headers=headers)
        assert shown.json()["id"] == job["id"]
    job_refused = await intake.get(f"/v1/jobs/{job['id']}", headers=biller)
    assert assert_problem(job_refused, 403)["detail"] == (
        "this needs the scope jobs:write or results:read; the token has invoices:read"
    )
    document = await intake.get(f"/v1/documents/{new_id()}", headers=writer)
    assert assert_problem(document, 403)["detail"] == (
        "this needs the scope results:read; the token has jobs:write"
    )
    cancelled = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=writer)
    assert cancelled.json()["status"] == "cancelled"


async def test_another_clients_key_sees_none_of_this_clients_work(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Private Ltd")
    job = await create_job(intake, tokens, client_id)
    stranger = tokens.api_key(UUID(int=99), *KeyScope)

    for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/items"):
        assert_problem(await intake.get(path, headers=stranger), 404)
    assert (await intake.get("/v1/jobs", headers=stranger)).json()["data"] == []


async def test_a_contractors_profile_is_theirs_and_ops_a_client_is_refused_its_role(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    """A client is a role these routes do not serve (403, as on every route); another
    contractor is not told whether the contractor exists (404)."""
    created = await intake.post(
        "/v1/contractors", json={"name": "Private Keyer"}, headers=tokens.manager(Scope.OPS)
    )
    contractor_id = created.json()["id"]
    for path in (
        f"/v1/contractors/{contractor_id}",
        f"/v1/contractors/{contractor_id}/qualifications",
    ):
        own = await intake.get(path, headers=tokens.contractor(UUID(contractor_id)))
        assert own.status_code == 200, own.text
        client = await intake.get(path, headers=tokens.client(new_id()))
        assert assert_problem(client, 403)["detail"] == (
            "this needs the role contractor, manager; the token has client"
        )
        other = await intake.get(path, headers=tokens.contractor(new_id()))
        assert assert_problem(other, 404)["detail"] == f"no contractor {contractor_id}"
