"""Scopes within a role on reporting: managers of operations and of finance read the reports
and the dashboard; an API key's token with reports:read reads its own client's throughput."""

from uuid import UUID

import httpx

from bpo_common.auth import KeyScope, Role, Scope
from bpo_devtools.testing import Tokens, assert_problem


async def test_reports_are_for_operations_and_finance_managers(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    for scope in (Scope.OPS, Scope.FINANCE):
        allowed = await reporting.get("/v1/reports/overview", headers=tokens.manager(scope))
        assert allowed.status_code == 200, allowed.text
        assert "items_received" in allowed.json()
    refused = await reporting.get("/v1/reports/overview", headers=tokens.manager(Scope.ADMIN))
    assert assert_problem(refused, 403)["detail"] == (
        "this needs the scope ops or finance; the token has admin"
    )
    admin_only = tokens.token(Role.MANAGER, "carol", scopes=[Scope.ADMIN])
    page = await reporting.get("/dashboard", headers={"Cookie": f"bpo_dashboard={admin_only}"})
    assert page.status_code == 403
    assert "this needs the scope ops or finance; the token has admin" in page.text
    assert "Open jobs" not in page.text


async def test_an_api_keys_token_reads_its_own_clients_throughput_only(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, other = UUID(int=61), UUID(int=62)
    reports = tokens.api_key(client_id, KeyScope.REPORTS_READ)

    own = await reporting.get("/v1/reports/throughput", params={"bucket": "day"}, headers=reports)
    assert own.status_code == 200, own.text
    assert (own.json()["client_id"], own.json()["bucket"]) == (str(client_id), "day")
    anothers = await reporting.get(
        "/v1/reports/throughput", params={"client_id": str(other)}, headers=reports
    )
    assert assert_problem(anothers, 404)["detail"] == f"no client {other}"
    overview = await reporting.get("/v1/reports/overview", headers=reports)
    assert assert_problem(overview, 403)["detail"] == (
        "this needs the role manager; the token has client"
    )
    without = await reporting.get(
        "/v1/reports/throughput", headers=tokens.api_key(client_id, KeyScope.RESULTS_READ)
    )
    assert assert_problem(without, 403)["detail"] == (
        "this needs the scope reports:read; the token has results:read"
    )
    # A manager's filter is the manager's own choice.
    managed = await reporting.get(
        "/v1/reports/throughput",
        params={"client_id": str(other)},
        headers=tokens.manager(Scope.OPS),
    )
    assert managed.json()["client_id"] == str(other)
