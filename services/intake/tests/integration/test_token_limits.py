"""The token endpoint's own limit: each request checks a secret with scrypt (16 MiB and some
50 ms of a core), so requests are counted per address before any secret is checked, and past
the limit an address's requests are refused, a 429 problem saying when to come back. A
request that gets a token is given its count back."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, assert_problem, serve
from bpo_intake.app import create_app
from bpo_intake.settings import Settings

from .api_keys import ask_token, make_key
from .conftest import job_body, register_client

# A burst of three, then one every 20 s.
ATTEMPTS, WINDOW_S = 3, 60
WRONG = {"client_secret": "bpok_not-the-secret"}
GRANT = {"grant_type": "client_credentials"}


class Clock:
    """A monotonic clock the tests move."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def limited_app(stack: TestStack, clock: Clock) -> FastAPI:
    settings = stack.settings(
        Settings, "intake", api_key_token_attempts=ATTEMPTS, api_key_token_window_s=WINDOW_S
    )
    return create_app(settings, clock=clock)


@pytest.fixture(scope="module")
async def limited(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(limited_app) as client:
        yield client


From = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def from_address(limited_app: FastAPI, limited: httpx.AsyncClient) -> From:
    """A client of the running app whose requests come from `address`."""

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=limited_app, client=(address, 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            yield http

    return client


async def _key(limited: httpx.AsyncClient, tokens: Tokens) -> dict[str, Any]:
    client_id = await register_client(limited, tokens, "Limited Ltd")
    return await make_key(limited, tokens, client_id, "jobs:write")


def _refusal(response: httpx.Response) -> str:
    """The 429 problem's detail, after checking its headers."""
    detail: str = assert_problem(response, 429)["detail"]
    assert detail.startswith(
        "too many token requests that got no token from this address: 3 every 60 s on this server"
    )
    assert response.headers["RateLimit-Policy"] == '"token-address";q=3;w=60'
    return detail


async def test_past_the_limit_an_address_waits_as_retry_after_says(
    limited: httpx.AsyncClient, from_address: From, tokens: Tokens, clock: Clock
) -> None:
    key = await _key(limited, tokens)
    async with from_address("198.51.100.1") as http:
        for _ in range(ATTEMPTS):
            assert (await ask_token(http, key, **WRONG)).status_code == 401

        refused = await ask_token(http, key)
        detail = _refusal(refused)
        assert detail.endswith("retry in 20 s, with the key's id and secret as they were given")
        assert refused.headers["Retry-After"] == "20"
        assert refused.headers["RateLimit"] == '"token-address";r=0;t=20'

        clock.now += 19
        assert (await ask_token(http, key)).status_code == 429, "not a second before"
        clock.now += 1
        granted = await ask_token(http, key)
    assert granted.status_code == 200, granted.text


async def test_wrong_secrets_from_elsewhere_never_keep_a_keys_owner_from_its_tokens(
    limited: httpx.AsyncClient, from_address: From, tokens: Tokens
) -> None:
    key = await _key(limited, tokens)
    async with from_address("198.51.100.2") as guesser:
        for _ in range(ATTEMPTS):
            assert (await ask_token(guesser, key, **WRONG)).status_code == 401
        assert (await ask_token(guesser, key, **WRONG)).status_code == 429

    async with from_address("203.0.113.9") as holder:
        assert (await ask_token(holder, key)).status_code == 200


async def test_tokens_granted_count_for_nothing_so_clients_behind_one_address_never_run_out(
    limited: httpx.AsyncClient, from_address: From, tokens: Tokens
) -> None:
    keys = [await _key(limited, tokens) for _ in range(2)]
    async with from_address("198.51.100.5") as proxy:
        for _ in range(ATTEMPTS * 3):
            for key in keys:
                assert (await ask_token(proxy, key)).status_code == 200


async def test_an_ipv6_host_is_counted_by_its_64_and_an_ipv4_mapped_one_as_ipv4(
    from_address: From,
) -> None:
    async def guess(address: str) -> httpx.Response:
        """A wrong secret for a key that does not exist, a new one each time: only the
        address's limit counts."""
        async with from_address(address) as http:
            fields = {"client_id": str(new_id()), "client_secret": "bpok_guess"}
            return await http.post("/v1/oauth/token", data=GRANT | fields)

    for n in range(ATTEMPTS):
        assert (await guess(f"2001:db8:1:1::{n + 1}")).status_code == 401
    _refusal(await guess("2001:db8:1:1::ffff"))
    assert (await guess("2001:db8:1:2::1")).status_code == 401, "another /64"

    for _ in range(ATTEMPTS):
        assert (await guess("198.51.100.4")).status_code == 401
    _refusal(await guess("::ffff:198.51.100.4"))


async def test_the_token_limit_spends_nothing_of_other_routes_and_they_nothing_of_it(
    limited: httpx.AsyncClient, from_address: From, tokens: Tokens
) -> None:
    key = await _key(limited, tokens)
    async with from_address("198.51.100.3") as http:
        granted = await ask_token(http, key)
        assert granted.status_code == 200, granted.text
        # The token endpoint takes no bearer token: the callers' request quotas are not spent.
        assert "ratelimit" not in granted.headers
        as_key = {"Authorization": f"Bearer {granted.json()['access_token']}"}
        for _ in range(5):
            created = await http.post("/v1/jobs", json=job_body(), headers=as_key)
            assert created.status_code == 201, created.text
        assert created.headers["RateLimit"].startswith('"requests";r=11995;')
        for _ in range(ATTEMPTS):
            assert (await ask_token(http, key, **WRONG)).status_code == 401
        _refusal(await ask_token(http, key))

        # The address's and the key's other requests go on as before.
        created = await http.post("/v1/jobs", json=job_body(), headers=as_key)
        assert created.status_code == 201, created.text
        assert created.headers["RateLimit"].startswith('"requests";r=11994;')
        as_client = tokens.client(created.json()["client_id"])
        assert (await http.post("/v1/jobs", json=job_body(), headers=as_client)).status_code == 201
