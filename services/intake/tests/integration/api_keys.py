"""API keys in tests: made through the API as an admin would, and exchanged for tokens."""

import base64
from typing import Any
from uuid import UUID

import httpx

from bpo_common.auth import Scope
from bpo_devtools.testing import Tokens


async def make_key(
    intake: httpx.AsyncClient, tokens: Tokens, client_id: UUID, *scopes: str, **extra: Any
) -> dict[str, Any]:
    """A new key of `client_id` with these scopes, as a manager with every scope makes it
    (its body, secret included)."""
    body = {"client_id": str(client_id), "name": "ERP export", "scopes": list(scopes), **extra}
    response = await intake.post("/v1/api-keys", json=body, headers=tokens.manager(*Scope))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def ask_token(intake: httpx.AsyncClient, key: dict[str, Any], **form: str) -> httpx.Response:
    """The token endpoint's answer to the key's id and secret in the form (and `form`)."""
    fields = {
        "grant_type": "client_credentials",
        "client_id": key["id"],
        "client_secret": key["secret"],
        **form,
    }
    return await intake.post("/v1/oauth/token", data=fields)


async def bearer(intake: httpx.AsyncClient, key: dict[str, Any]) -> dict[str, str]:
    """Headers carrying a fresh token of the key."""
    response = await ask_token(intake, key)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def basic(user: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}
