"""A client's system with an API key: intake gives it a token, and validation, billing and
reporting, each its own process, accept that token with the key's scopes."""

from typing import Any

import httpx

from bpo_common.auth import Scope
from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens, eventually

from .conftest import register_client


async def _token(
    http: httpx.AsyncClient, services: Services, key: dict[str, Any]
) -> httpx.Response:
    return await http.post(
        f"{services.url('intake')}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(key["id"], key["secret"]),
    )


async def _key(
    http: httpx.AsyncClient, services: Services, tokens: Tokens, client_id: str, *scopes: str
) -> dict[str, Any]:
    made = await http.post(
        f"{services.url('intake')}/v1/api-keys",
        json={"client_id": client_id, "name": "ERP", "scopes": list(scopes)},
        headers=tokens.manager(*Scope),
    )
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()
    return key


async def test_an_api_keys_token_works_on_every_service_until_the_key_is_revoked(
    services: Services, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    client_id = str(await register_client(http, services, tokens, "Integrated Systems"))
    key = await _key(
        http, services, tokens, client_id,
        "jobs:write", "results:read", "invoices:read", "reports:read",
    )  # fmt: skip
    granted = await _token(http, services, key)
    assert granted.status_code == 200, granted.text
    as_key = {"Authorization": f"Bearer {granted.json()['access_token']}"}

    created = await http.post(
        f"{services.url('intake')}/v1/jobs",
        json={"work_type": "keyed", "fields": [{"name": "total", "type": "decimal"}]},
        headers=as_key,
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    rules = f"{services.url('validation')}/v1/jobs/{job_id}/rules"
    terms = f"{services.url('billing')}/v1/jobs/{job_id}/terms"

    async def known() -> bool:
        answers = [await http.get(url, headers=as_key) for url in (rules, terms)]
        return all(answer.status_code == 200 for answer in answers)

    await eventually(known, what="the job to reach validation and billing")
    assert (await http.get(rules, headers=as_key)).json()["fields"] == created.json()["fields"]
    assert (await http.get(terms, headers=as_key)).json()["client_id"] == client_id
    invoices = await http.get(f"{services.url('billing')}/v1/invoices", headers=as_key)
    assert invoices.json() == {"data": [], "next_cursor": None}
    throughput = await http.get(
        f"{services.url('reporting')}/v1/reports/throughput", headers=as_key
    )
    assert throughput.status_code == 200, throughput.text
    assert throughput.json()["client_id"] == client_id

    revoked = await http.delete(
        f"{services.url('intake')}/v1/api-keys/{key['id']}", headers=tokens.manager(Scope.ADMIN)
    )
    assert revoked.status_code == 204
    refused = await _token(http, services, key)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


async def test_a_token_without_a_scope_is_refused_on_every_service_naming_it(
    services: Services, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    client_id = str(await register_client(http, services, tokens, "Narrow Systems"))
    key = await _key(http, services, tokens, client_id, "jobs:write")
    as_key = {
        "Authorization": f"Bearer {(await _token(http, services, key)).json()['access_token']}"
    }

    for url, scope in (
        (f"{services.url('intake')}/v1/webhooks/deliveries", "results:read"),
        (f"{services.url('validation')}/v1/exceptions", "results:read"),
        (f"{services.url('billing')}/v1/usage", "invoices:read"),
        (f"{services.url('reporting')}/v1/reports/throughput", "reports:read"),
    ):
        refused = await http.get(url, headers=as_key)
        assert refused.status_code == 403, url
        assert refused.json()["detail"] == f"this needs the scope {scope}; the token has jobs:write"
