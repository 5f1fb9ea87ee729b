"""Tokens verified against a JWKS URL, as with an identity provider in production."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bpo_common.auth import Role, TokenVerifier, ensure_key_pair, issue_token
from bpo_common.errors import Unauthorized, Unavailable


class Jwks:
    """A JWKS endpoint on loopback: the keys it publishes (by kid) can change meanwhile."""

    def __init__(self, directory: Path) -> None:
        self.private_keys: dict[str, str] = {}
        self.published: dict[str, dict[str, str]] = {}
        for kid in ("k1", "k2"):
            private_path, public_path = ensure_key_pair(directory / kid)
            public_key = serialization.load_pem_public_key(public_path.read_bytes())
            assert isinstance(public_key, rsa.RSAPublicKey)
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
            self.published[kid] = {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
            self.private_keys[kid] = private_path.read_text()
        self.served = {"k1"}
        self.answer: bytes | None = None  # served instead of the key set when set
        self.fetches = 0
        self.server = HTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                keys = [jwks.published[kid] for kid in sorted(jwks.served)]
                body = jwks.answer or json.dumps({"keys": keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        return Handler

    def token(self, kid: str, subject: str = "m1") -> str:
        claims = {
            "sub": subject,
            "role": "manager",
            "scope": "ops pii",
            "iss": "idp",
            "aud": "bpo",
            "exp": 4102444800,
        }
        return jwt.encode(claims, self.private_keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def key_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The endpoint's key pairs, made once (ensure_key_pair keeps those it finds)."""
    return tmp_path_factory.mktemp("jwks")


@pytest.fixture
def jwks(key_pairs: Path) -> Iterator[Jwks]:
    served = Jwks(key_pairs)
    thread = threading.Thread(
        target=served.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


@pytest.fixture
def jwks_url(jwks: Jwks) -> tuple[str, str]:
    """The JWKS endpoint's URL and the private key of the one key it publishes."""
    return jwks.url, jwks.private_keys["k1"]


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


async def test_a_key_removed_from_the_jwks_verifies_nothing_once_the_set_is_fetched_again(
    jwks: Jwks,
) -> None:
    verifier = TokenVerifier(
        issuer="idp", audience="bpo", algorithm="RS256", jwks_url=jwks.url, jwks_lifespan_s=0.2
    )
    before = jwks.token("k1", "m1")
    assert (await verifier.verify(before)).scopes == {"ops", "pii"}

    jwks.served = {"k2"}  # the identity provider rotates k1 out
    await asyncio.sleep(0.3)  # longer than the key set is trusted for

    with pytest.raises(Unauthorized, match='Unable to find a signing key that matches: "k1"'):
        await verifier.verify(jwks.token("k1", "m2"))
    with pytest.raises(Unauthorized, match='Unable to find a signing key that matches: "k1"'):
        await verifier.verify(before)
    assert (await verifier.verify(jwks.token("k2", "m3"))).subject == "m3"


async def test_an_unreachable_jwks_is_a_503_not_a_refused_token(jwks: Jwks) -> None:
    token = jwks.token("k1")
    jwks.server.shutdown()
    jwks.server.server_close()
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=jwks.url)

    with pytest.raises(Unavailable) as refused:
        await verifier.verify(token)
    assert refused.value.status == 503
    # Sent again sooner, it would be answered from the failure remembered, not fetched again.
    assert refused.value.headers == {"Retry-After": "5"}
    assert refused.value.detail == (
        "the identity provider's keys (BPO_JWT_JWKS_URL) cannot be fetched now; retry the request"
    )


@pytest.mark.parametrize(
    "answer",
    [b"<html><body>Down for maintenance</body></html>", b"[]", b'{"sets": []}', b'{"keys": []}'],
)
async def test_a_url_answering_no_key_set_is_a_503_remembered_not_a_refused_token(
    jwks: Jwks, answer: bytes
) -> None:
    jwks.answer = answer
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=jwks.url)

    with pytest.raises(Unavailable) as refused:
        await verifier.verify(jwks.token("k1"))
    assert refused.value.headers == {"Retry-After": "5"}
    assert "BPO_JWT_JWKS_URL" in refused.value.detail
    with pytest.raises(Unavailable):
        await verifier.verify(jwks.token("k1", "m2"))
    assert jwks.fetches == 1, "the failure is remembered, not fetched again at once"


async def test_a_failed_fetch_for_a_kid_the_set_lacks_keeps_no_token_of_a_key_it_holds_out(
    jwks: Jwks,
) -> None:
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=jwks.url)
    assert (await verifier.verify(jwks.token("k1", "alice"))).subject == "alice"
    assert verifier._jwks is not None
    client = verifier._jwks._client
    # PyJWT's pause between fetches for kids the set lacks is over; the set is still trusted.
    client._last_successful_fetch = time.monotonic() - client.cooldown_duration - 1
    jwks.answer = b"<html><body>Down for maintenance</body></html>"
    forged = jwt.encode({}, jwks.private_keys["k1"], algorithm="RS256", headers={"kid": "k9"})

    with pytest.raises(Unavailable, match="cannot be fetched now"):
        await verifier.verify(forged)
    assert jwks.fetches == 2

    bob = await verifier.verify(jwks.token("k1", "bob"))
    assert (bob.subject, bob.role, bob.scopes) == ("bob", Role.MANAGER, frozenset({"ops", "pii"}))
    assert jwks.fetches == 2, "k1 is taken from the set held, not fetched"
    # A token that does need a fetch is still answered from the failure remembered.
    with pytest.raises(Unavailable, match="cannot be fetched now"):
        await verifier.verify(jwks.token("k2", "carol"))
    assert jwks.fetches == 2


async def test_a_token_whose_key_the_set_lacks_is_refused(jwks: Jwks) -> None:
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=jwks.url)

    with pytest.raises(Unauthorized, match="invalid token"):
        await verifier.verify(jwks.token("k2"))


class Silent:
    """An identity provider that takes connections and never answers (overloaded, or behind
    a proxy that waits for it): each connection is held open until the end."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/jwks.json"
        self.held: list[socket.socket] = []
        self.connected = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def hold(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return
            self._loop.call_soon_threadsafe(self.connected.set)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
async def silent() -> AsyncIterator[Silent]:
    provider = Silent()
    threading.Thread(target=provider.hold, daemon=True).start()
    try:
        yield provider
    finally:
        provider.close()


async def test_a_jwks_that_never_answers_holds_no_thread_of_others_and_is_a_503_to_all_soon(
    jwks: Jwks, silent: Silent
) -> None:
    verifier = TokenVerifier(issuer="idp", audience="bpo", algorithm="RS256", jwks_url=silent.url)
    checks = [asyncio.create_task(verifier.verify(jwks.token("k1", f"m{n}"))) for n in range(20)]
    await asyncio.wait_for(silent.connected.wait(), 30)
    # While the key set is being waited for, the work of the default threads goes on: it is
    # done before any check is answered (the fetch gives up only after JWKS_TIMEOUT_S).
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "done"), 30) == "done"
    assert not any(check.done() for check in checks), "the threads waited for the fetch"
    answers = await asyncio.wait_for(asyncio.gather(*checks, return_exceptions=True), 30)
    assert [type(answer) for answer in answers] == [Unavailable] * 20
    # The failure remembered: a token soon after is answered without fetching again, and the
    # twenty did not each try in turn: one connection in all.
    with pytest.raises(Unavailable, match="cannot be fetched now"):
        await verifier.verify(jwks.token("k1", "m20"))
    assert len(silent.held) == 1
