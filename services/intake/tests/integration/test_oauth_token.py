"""The token endpoint speaks OAuth 2.0's client credentials grant: a form, the key's id and
secret in it or as HTTP Basic, and RFC 6749's error bodies."""

from typing import Any

import httpx
import jwt
import pytest

from bpo_devtools.testing import TestStack, Tokens, serve
from bpo_intake.app import create_app
from bpo_intake.settings import Settings

from .api_keys import ask_token, basic, make_key
from .conftest import register_client


@pytest.fixture(scope="module")
async def key(intake: httpx.AsyncClient, tokens: Tokens) -> dict[str, Any]:
    client_id = await register_client(intake, tokens, "OAuth Ltd")
    return await make_key(intake, tokens, client_id, "jobs:write", "results:read")


def _refusal(response: httpx.Response, status: int, error: str) -> str:
    """The RFC 6749 §5.2 error body's description, after checking the rest of the answer."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"] == 'Basic realm="bpo", charset="UTF-8"'
    else:
        assert "www-authenticate" not in response.headers
    description: str = body["error_description"]
    return description


async def test_http_basic_and_the_form_give_the_same_token(
    intake: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    by_form = await ask_token(intake, key)
    by_basic = await intake.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(key["id"], key["secret"]),
    )

    for granted in (by_form, by_basic):
        assert granted.status_code == 200, granted.text
        claims = jwt.decode(granted.json()["access_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["scope"]) == (
            f"api-key:{key['id']}",
            "jobs:write results:read",
        )


async def test_a_token_may_ask_for_fewer_of_the_keys_scopes_but_not_more(
    intake: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    narrow = await ask_token(intake, key, scope="results:read")
    assert narrow.json()["scope"] == "results:read"
    as_reader = {"Authorization": f"Bearer {narrow.json()['access_token']}"}
    refused = await intake.post("/v1/jobs", json={}, headers=as_reader)
    assert refused.json()["detail"] == "this needs the scope jobs:write; the token has results:read"

    wider = await ask_token(intake, key, scope="results:read invoices:read")
    assert _refusal(wider, 400, "invalid_scope") == (
        "the API key was not given invoices:read; it has jobs:write results:read"
    )


async def test_a_refused_scope_gives_no_token_and_leaves_the_key_unused(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Unused Ltd")
    key = await make_key(intake, tokens, client_id, "results:read")
    wider = await ask_token(intake, key, scope="invoices:read")
    assert _refusal(wider, 400, "invalid_scope").startswith("the API key was not given")
    listed = await intake.get("/v1/api-keys", headers=tokens.client(client_id))
    assert [(k["id"], k["last_used_at"]) for k in listed.json()["data"]] == [(key["id"], None)]


@pytest.mark.parametrize(
    ("form", "description"),
    [
        pytest.param({"client_secret": "bpok_wrong"}, "no API key with that client_id and "
                     "client_secret", id="wrong-secret"),
        pytest.param({"client_id": "01890a5d-ac96-774b-bcce-b302099a8057"}, "no API key with "
                     "that client_id and client_secret", id="unknown-key"),
        pytest.param({"client_id": "erp"}, "no API key with that client_id and client_secret",
                     id="not-a-key-id"),
        pytest.param({"client_secret": ""}, "authenticate with the API key's id and secret: as "
                     "HTTP Basic, or as client_id and client_secret in the form", id="no-secret"),
    ],
)  # fmt: skip
async def test_wrong_credentials_are_an_invalid_client(
    intake: httpx.AsyncClient, key: dict[str, Any], form: dict[str, str], description: str
) -> None:
    refused = await ask_token(intake, key, **form)
    assert _refusal(refused, 401, "invalid_client") == description


# Not base64; a byte outside ASCII (HTTP allows it in a header).
@pytest.mark.parametrize("header", [b"Basic not-base64!", b"Basic \xe9"])
async def test_a_basic_header_that_is_not_id_and_secret_is_an_invalid_client(
    intake: httpx.AsyncClient, header: bytes
) -> None:
    refused = await intake.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={b"Authorization": header},
    )
    assert _refusal(refused, 401, "invalid_client") == (
        "HTTP Basic credentials must be base64 of id:secret"
    )


@pytest.mark.parametrize(
    ("form", "error", "description"),
    [
        pytest.param({"grant_type": "password"}, "unsupported_grant_type",
                     "the only grant type here is client_credentials", id="password-grant"),
        pytest.param({"grant_type": ""}, "invalid_request",
                     "grant_type is required: client_credentials", id="no-grant-type"),
    ],
)  # fmt: skip
async def test_a_grant_other_than_client_credentials_is_refused(
    intake: httpx.AsyncClient,
    key: dict[str, Any],
    form: dict[str, str],
    error: str,
    description: str,
) -> None:
    assert _refusal(await ask_token(intake, key, **form), 400, error) == description


async def test_requests_not_made_as_the_rfc_says_are_invalid(
    intake: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    fields = {"grant_type": "client_credentials", "client_id": key["id"]}
    as_json = await intake.post("/v1/oauth/token", json=fields | {"client_secret": key["secret"]})
    assert _refusal(as_json, 400, "invalid_request") == (
        "send the request as application/x-www-form-urlencoded"
    )
    both_ways = await intake.post(
        "/v1/oauth/token",
        data=fields | {"client_secret": key["secret"]},
        headers=basic(key["id"], key["secret"]),
    )
    assert _refusal(both_ways, 400, "invalid_request") == (
        "authenticate one way: HTTP Basic, or client_secret in the form, not both"
    )
    twice = await intake.post(
        "/v1/oauth/token",
        content=f"grant_type=client_credentials&client_id={key['id']}&client_id={key['id']}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert _refusal(twice, 400, "invalid_request") == "give client_id once"


async def test_an_intake_without_a_signing_key_gives_api_keys_no_token(
    stack: TestStack, key: dict[str, Any]
) -> None:
    settings = stack.settings(Settings, "intake", api_key_private_key_file=None)
    async with serve(create_app(settings)) as unsigned:
        refused = await ask_token(unsigned, key)
    assert _refusal(refused, 400, "unauthorized_client") == (
        "this platform issues no tokens for API keys (intake has no signing key)"
    )
