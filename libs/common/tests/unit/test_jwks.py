"""Tokens verified against a JWKS URL, as with an identity provider in production."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bpo_common.auth import Role, TokenVerifier, ensure_key_pair, issue_token
from bpo_common.errors import Unauthorized


@pytest.fixture
def jwks_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JWKS endpoint on loopback publishing one key; yields its URL and the private key."""
    private_path, public_path = ensure_key_pair(tmp_path)
    public_key = serialization.load_pem_public_key(public_path.read_bytes())
    assert isinstance(public_key, rsa.RSAPublicKey)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", private_path.read_text()
    finally:
        server.shutdown()


async def test_a_token_signed_by_a_key_in_the_jwks_is_accepted(jwks_url: tuple[str, str]) -> None:
    url, private_key = jwks_url
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=url)
    client_id = UUID(int=5)
    token = jwt.encode(
        {
            "sub": "erp",
            "role": "client",
            "client_id": str(client_id),
            "iss": "idp",
            "aud": "bpo",
            "exp": 4102444800,
        },
        private_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    principal = await verifier.verify(token)
    assert (principal.subject, principal.role, principal.client_id) == (
        "erp",
        Role.CLIENT,
        client_id,
    )


async def test_a_token_signed_by_another_key_is_refused(
    jwks_url: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = jwks_url
    other_private, _ = ensure_key_pair(tmp_path / "other")
    token = issue_token(
        other_private.read_text(), subject="x", role=Role.MANAGER, issuer="idp", audience="bpo"
    )
    token_with_kid = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        other_private.read_text(),
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=url)
    with pytest.raises(Unauthorized, match="invalid token"):
        await verifier.verify(token_with_kid)


def test_a_verifier_needs_exactly_one_key_source() -> None:
    with pytest.raises(ValueError, match="exactly one of BPO_JWT_PUBLIC_KEY_FILE"):
        TokenVerifier(issuer="i", audience="a", algorithm="RS256")
