"""The token endpoint: an API key's id and secret for a short-lived access token, by OAuth
2.0's client credentials grant (RFC 6749 §4.4), which every service accepts.

The request and its answers are RFC 6749's, not this API's usual JSON and problems: a form
body, the key's credentials in it or as HTTP Basic (§2.3.1), and errors as `{error,
error_description}` (§5.2).
"""

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bpo_common.audit import client_address
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.text import CheckedRoute
from bpo_intake.domain.api_keys import OAuthError, TokenRefused
from bpo_intake.routes.api_keys import SecretChecksDep
from bpo_intake.service import api_keys
from bpo_intake.service.api_keys import TokenSigner
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1/oauth", tags=["oauth"], route_class=CheckedRoute)

FORM = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")
# RFC 6749 §5.1: tokens, and the answers that refuse them, are not to be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="bpo", charset="UTF-8"'}


class AccessToken(BaseModel):
    access_token: str = Field(description="a JWT: send it as Authorization: Bearer")
    token_type: str = Field("Bearer", description="always Bearer")
    expires_in: int = Field(description="seconds it works for")
    scope: str = Field(description="what it may do, space-separated")


class TokenError(BaseModel):
    error: OAuthError
    error_description: str


_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
                        "client_id": {
                            "type": "string",
                            "description": "the API key's id (or send it as HTTP Basic)",
                        },
                        "client_secret": {
                            "type": "string",
                            "description": "the API key's secret (or send it as HTTP Basic)",
                        },
                        "scope": {
                            "type": "string",
                            "description": "some of the key's scopes, space-separated; "
                            "default: all of them",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/token",
    response_model=AccessToken,
    openapi_extra=_FORM_BODY,
    responses={
        400: {"model": TokenError, "description": "a bad request, grant type or scope"},
        401: {"model": TokenError, "description": "no API key with that id and secret"},
        429: {
            "description": "Too many token requests that got no token from the caller's "
            "address: retry after `Retry-After` seconds",
            **PROBLEM_RESPONSE,
        },
    },
)
async def token(
    request: Request, session: SessionDep, settings: SettingsDep, checks: SecretChecksDep
) -> JSONResponse:
    """Get an access token for an API key (OAuth 2.0 client credentials grant)."""
    try:
        asked = await _token_request(request)
        grant = await api_keys.grant_token(
            session,
            TokenSigner.of(settings),
            checks,
            client_address(request.scope, settings.trusted_proxies),
            asked.client_id,
            asked.client_secret,
            asked.scope,
            utcnow(),
        )
    except TokenRefused as refused:
        invalid_client = refused.error is OAuthError.INVALID_CLIENT
        return JSONResponse(
            TokenError(error=refused.error, error_description=refused.description).model_dump(),
            status_code=401 if invalid_client else 400,
            headers=NO_STORE | (CHALLENGE if invalid_client else {}),
        )
    body = AccessToken(
        access_token=grant.access_token, expires_in=grant.expires_in, scope=" ".join(grant.scopes)
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@dataclass(frozen=True)
class TokenRequest:
    client_id: str
    client_secret: str
    scope: str | None


async def _token_request(request: Request) -> TokenRequest:
    """The grant asked for, and the key's credentials from the form or HTTP Basic."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise TokenRefused(OAuthError.INVALID_REQUEST, f"send the request as {FORM}")
    form = await request.form()
    repeated = [name for name in PARAMETERS if len(form.getlist(name)) > 1]
    if repeated:
        raise TokenRefused(OAuthError.INVALID_REQUEST, f"give {', '.join(repeated)} once")
    values = {name: value for name in PARAMETERS if isinstance(value := form.get(name), str)}
    grant_type = values.get("grant_type")
    if not grant_type:
        raise TokenRefused(OAuthError.INVALID_REQUEST, f"grant_type is required: {GRANT_TYPE}")
    if grant_type != GRANT_TYPE:
        raise TokenRefused(
            OAuthError.UNSUPPORTED_GRANT_TYPE, f"the only grant type here is {GRANT_TYPE}"
        )
    basic = _basic(request.headers.get("authorization"))
    if basic is not None:
        if "client_secret" in values:
            raise TokenRefused(
                OAuthError.INVALID_REQUEST,
                "authenticate one way: HTTP Basic, or client_secret in the form, not both",
            )
        if values.get("client_id", basic[0]) != basic[0]:
            raise TokenRefused(
                OAuthError.INVALID_REQUEST, "client_id differs from the HTTP Basic user"
            )
        return TokenRequest(basic[0], basic[1], values.get("scope"))
    if not values.get("client_id") or not values.get("client_secret"):
        raise TokenRefused(
            OAuthError.INVALID_CLIENT,
            "authenticate with the API key's id and secret: as HTTP Basic, or as client_id "
            "and client_secret in the form",
        )
    return TokenRequest(values["client_id"], values["client_secret"], values.get("scope"))


def _basic(header: str | None) -> tuple[str, str] | None:
    """HTTP Basic credentials (RFC 6749 §2.3.1: each part form-encoded, then base64)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not UTF-8, or not ASCII to begin with
        decoded = ""
    user, colon, password = decoded.partition(":")
    if not colon:
        raise TokenRefused(
            OAuthError.INVALID_CLIENT, "HTTP Basic credentials must be base64 of id:secret"
        )
    return unquote_plus(user), unquote_plus(password)
