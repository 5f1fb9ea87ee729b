"""Scopes within a role on billing: money is for finance managers; an API key's token reads its
client's invoices, usage and prices with invoices:read."""

from uuid import UUID

import httpx

from bpo_common.auth import KeyScope, Scope
from bpo_devtools.testing import Tokens, assert_problem


async def test_money_is_for_finance_managers(billing: httpx.AsyncClient, tokens: Tokens) -> None:
    finance, ops = tokens.manager(Scope.FINANCE), tokens.manager(Scope.OPS)

    margin = await billing.get("/v1/margin", headers=finance)
    assert set(margin.json()) >= {"period_start", "period_end"}
    refused = await billing.get("/v1/margin", headers=ops)
    assert assert_problem(refused, 403)["detail"] == (
        "this needs the scope finance; the token has ops"
    )
    prices = await billing.put(
        f"/v1/price-books/{UUID(int=51)}",
        json={"currency": "EUR", "tax_rate": "0.2", "rates": {"x": {"per_item": "1"}}},
        headers=ops,
    )
    assert assert_problem(prices, 403)["detail"] == (
        "this needs the scope finance; the token has ops"
    )
    rates = await billing.get("/v1/piece-rates", headers=tokens.manager(Scope.ADMIN))
    assert assert_problem(rates, 403)["detail"] == (
        "this needs the scope finance; the token has admin"
    )
    contractor = UUID(int=52)
    earnings = await billing.get(f"/v1/contractors/{contractor}/earnings", headers=ops)
    assert assert_problem(earnings, 403)["detail"] == (
        "this needs the scope finance; the token has ops"
    )
    own = await billing.get(
        f"/v1/contractors/{contractor}/earnings", headers=tokens.contractor(contractor)
    )
    assert own.json()["contractor_id"] == str(contractor)


async def test_an_api_keys_token_reads_its_clients_billing_with_invoices_read(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, other = UUID(int=53), UUID(int=54)
    biller = tokens.api_key(client_id, KeyScope.INVOICES_READ)
    reader = tokens.api_key(client_id, KeyScope.RESULTS_READ, KeyScope.JOBS_WRITE)

    for path in ("/v1/invoices", "/v1/usage"):
        listed = await billing.get(path, headers=biller)
        assert listed.json() == {"data": [], "next_cursor": None}
        refused = await billing.get(path, headers=reader)
        assert assert_problem(refused, 403)["detail"] == (
            "this needs the scope invoices:read; the token has jobs:write, results:read"
        )
    own = await billing.get(f"/v1/price-books/{client_id}", headers=biller)
    assert assert_problem(own, 404)["detail"] == f"client {client_id} has no price book"
    anothers = await billing.get(f"/v1/price-books/{other}", headers=biller)
    assert assert_problem(anothers, 404)["detail"] == "no such object"
