"""Who may call GET /v1/jobs: every bad token is a 401 that says what is wrong with it."""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bpo_common.auth import Role, issue_token
from bpo_common.clock import utcnow
from bpo_common.ids import new_id
from bpo_devtools.testing import TEST_AUDIENCE, TEST_ISSUER, TestStack, Tokens, assert_problem

from .conftest import register_client

MakeToken = Callable[[Tokens, TestStack], str]


def _claims(**overrides: Any) -> dict[str, Any]:
    """Valid manager claims, with these changed (None removes a claim); times as NumericDate."""
    now = int(utcnow().timestamp())
    claims = {
        "sub": "mallory",
        "role": "manager",
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not None}


def _unsigned_jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signed(tokens: Tokens, **overrides: Any) -> str:
    """A token signed with the platform's real key, with these claims changed (None removes)."""
    return jwt.encode(_claims(**overrides), tokens.private_key, algorithm="RS256")


def _issued(tokens: Tokens, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "subject": "mallory",
        "role": Role.MANAGER,
        "issuer": TEST_ISSUER,
        "audience": TEST_AUDIENCE,
        **overrides,
    }
    return issue_token(tokens.private_key, **arguments)


def _signed_by_another_key(tokens: Tokens, stack: TestStack) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return issue_token(
        pem, subject="mallory", role=Role.MANAGER, issuer=TEST_ISSUER, audience=TEST_AUDIENCE
    )


def _unsigned(tokens: Tokens, stack: TestStack) -> str:
    """`alg: none` with an empty signature, as jwt.encode(claims, None, algorithm="none") makes."""
    return _unsigned_jwt({"alg": "none", "typ": "JWT"}, _claims()) + "."


def _hmac_with_the_public_key(tokens: Tokens, stack: TestStack) -> str:
    """The classic key-confusion attack: HS256 keyed with the (public) RSA verification key."""
    signing_input = _unsigned_jwt({"alg": "HS256", "typ": "JWT"}, _claims())
    key = stack.public_key.read_bytes()
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


BAD_TOKENS: list[Any] = [
    pytest.param(
        _signed_by_another_key,
        "invalid token: Signature verification failed",
        id="signed-by-another-key",
    ),
    pytest.param(
        lambda tokens, _: _issued(tokens, ttl=timedelta(minutes=-1)),
        "the token has expired",
        id="expired",
    ),
    pytest.param(
        lambda tokens, _: _issued(tokens, audience="billing-partner"),
        f"the token is not meant for audience {TEST_AUDIENCE!r}",
        id="wrong-audience",
    ),
    pytest.param(
        lambda tokens, _: _issued(tokens, issuer="https://evil.example"),
        f"the token was not issued by {TEST_ISSUER!r}",
        id="wrong-issuer",
    ),
    pytest.param(_unsigned, "invalid token: The specified alg value is not allowed", id="alg-none"),
    pytest.param(
        _hmac_with_the_public_key,
        "invalid token: The specified alg value is not allowed",
        id="hs256-keyed-with-the-public-key",
    ),
    pytest.param(
        lambda tokens, _: _issued(tokens, role=Role.CLIENT),
        "a client token must carry a client_id UUID",
        id="client-without-client-id",
    ),
    pytest.param(
        lambda tokens, _: _signed(tokens, role="client", client_id="acme"),
        "a client token must carry a client_id UUID",
        id="client-id-not-a-uuid",
    ),
    pytest.param(
        lambda tokens, _: _signed(tokens, role="admin"),
        "the token's role must be client, contractor or manager",
        id="unknown-role",
    ),
    pytest.param(
        lambda tokens, _: _signed(tokens, role=None),
        "the token's role must be client, contractor or manager",
        id="no-role",
    ),
    pytest.param(
        lambda tokens, _: _signed(tokens, exp=None),
        'invalid token: Token is missing the "exp" claim',
        id="no-expiry",
    ),
    pytest.param(
        lambda tokens, _: _signed(tokens, sub=None),
        'invalid token: Token is missing the "sub" claim',
        id="no-subject",
    ),
    pytest.param(
        lambda tokens, _: "not-a-jwt", "invalid token: Not enough segments", id="not-a-jwt"
    ),
]


@pytest.mark.parametrize(("make_token", "detail"), BAD_TOKENS)
async def test_bad_token_is_refused_with_401_saying_what_is_wrong(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    stack: TestStack,
    make_token: MakeToken,
    detail: str,
) -> None:
    token = make_token(tokens, stack)

    response = await intake.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})

    problem = assert_problem(response, 401)
    assert problem["title"] == "Unauthorized"
    assert problem["detail"] == detail
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Basic bWFuYWdlcjpzZWNyZXQ="}, id="basic-auth"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
    ],
)
async def test_request_without_a_bearer_token_is_told_how_to_authenticate(
    intake: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await intake.get("/v1/jobs", headers=headers)

    problem = assert_problem(response, 401)
    assert problem["detail"] == "send an Authorization: Bearer <token> header"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_contractor_token_is_valid_but_not_allowed_to_list_jobs(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await intake.get("/v1/jobs", headers=tokens.contractor(new_id()))

    problem = assert_problem(response, 403)
    assert problem["title"] == "Forbidden"
    assert problem["detail"] == "this needs the role client, manager; the token has contractor"
    assert "WWW-Authenticate" not in response.headers


async def test_valid_client_and_manager_tokens_list_jobs(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    # The same claims as the refused tokens above, correctly signed: the setup is not the cause.
    manager = _signed(tokens)
    client = _signed(tokens, role="client", client_id=str(client_id))

    as_manager = await intake.get("/v1/jobs", headers={"Authorization": f"Bearer {manager}"})
    as_client = await intake.get("/v1/jobs", headers={"Authorization": f"Bearer {client}"})

    assert as_manager.status_code == 200, as_manager.text
    assert set(as_manager.json()) == {"data", "next_cursor"}
    assert as_client.status_code == 200, as_client.text
    assert as_client.json() == {"data": [], "next_cursor": None}
