"""Rate limits on a service app as every service builds it (bpo_common.service), against the
run's PostgreSQL and NATS, with tiny quotas and a clock the tests move: a burst past a quota
is a 429 saying when to retry, the caller is served again then, one caller's burst never
limits another, and a request spends the quota of the caller its route serves it as."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from bpo_common.auth import API_KEY_SUBJECT, CurrentPrincipal, KeyScope, Role
from bpo_common.ids import new_id
from bpo_common.ratelimit import ItemCounter, RateLimiter
from bpo_common.service import ServiceDefinition, create_service_app
from bpo_common.settings import Component, ServiceSettings
from bpo_devtools.testing import TEST_API_KEY_ISSUER, TestStack, Tokens, assert_problem, serve

REQUESTS, ITEMS, BYTES = 3, 10, 2000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LimitedSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "BPO_LIMITED_"}

    port: int = 9000


router = APIRouter(prefix="/v1")


@router.get("/me")
async def me(caller: CurrentPrincipal) -> dict[str, str]:
    return {"subject": caller.subject}


@router.post("/things")
async def things(request: Request, _: CurrentPrincipal, count_items: ItemCounter) -> dict[str, int]:
    things: list[Any] = await request.json()
    count_items(len(things))
    return {"accepted": len(things)}


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def api(stack: TestStack, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    settings = stack.settings(LimitedSettings, "intake", component=Component.API)
    limiter = RateLimiter(
        requests_per_minute=REQUESTS, items_per_minute=ITEMS, bytes_per_minute=BYTES, clock=clock
    )
    definition = ServiceDefinition("limited", "Limited", "A service with tiny quotas", [router])
    app: FastAPI = create_service_app(definition, settings, rate_limiter=limiter)
    async with serve(app) as client:
        yield client


def api_key(tokens: Tokens, client_id: UUID, key: UUID) -> dict[str, str]:
    """A token of the API key `key`, as intake issues one."""
    subject = f"{API_KEY_SUBJECT}{key}"
    token = tokens.token(
        Role.CLIENT, subject, client_id, [KeyScope.JOBS_WRITE], issuer=TEST_API_KEY_ISSUER
    )
    return {"Authorization": f"Bearer {token}"}


async def spend(api: httpx.AsyncClient, headers: dict[str, str], requests: int = REQUESTS) -> None:
    for _ in range(requests):
        assert (await api.get("/v1/me", headers=headers)).status_code == 200


async def test_a_burst_past_the_limit_is_a_429_saying_when_to_retry_and_then_it_is_served(
    api: httpx.AsyncClient, tokens: Tokens, clock: Clock
) -> None:
    keyer = tokens.contractor(new_id())
    first = await api.get("/v1/me", headers=keyer)
    assert first.headers["RateLimit-Policy"] == (
        '"requests";q=3;w=60, "items";q=10;qu="items";w=60, "bytes";q=2000;qu="content-bytes";w=60'
    )
    assert first.headers["RateLimit"] == '"requests";r=2;t=20'
    await spend(api, keyer, REQUESTS - 1)

    refused = await api.get("/v1/me", headers=keyer)

    body = assert_problem(refused, 429)
    assert body["detail"] == (
        "this contractor may send 3 requests a minute on this server; retry in 20 s"
    )
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["RateLimit"] == '"requests";r=0;t=20'
    assert "RateLimit-Policy" in refused.headers
    clock.now += int(refused.headers["Retry-After"])
    again = await api.get("/v1/me", headers=keyer)
    assert again.status_code == 200
    assert again.headers["RateLimit"] == '"requests";r=0;t=20'


async def test_a_key_a_client_and_a_contractor_each_spend_their_own_quota(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, other_client_id = new_id(), new_id()
    key = api_key(tokens, client_id, new_id())
    await spend(api, key)
    assert (await api.get("/v1/me", headers=key)).status_code == 429

    # Another key of the same client, the client's own token, another client, a contractor.
    for caller in (
        api_key(tokens, client_id, new_id()),
        tokens.headers(Role.CLIENT, "someone", client_id),
        tokens.client(other_client_id),
        tokens.contractor(new_id()),
    ):
        answer = await api.get("/v1/me", headers=caller)
        assert answer.status_code == 200
        assert answer.headers["RateLimit"].startswith('"requests";r=2;')

    # The people of one client share its quota, whatever their token's subject.
    await spend(api, tokens.headers(Role.CLIENT, "ann", other_client_id), REQUESTS - 1)
    colleague = await api.get("/v1/me", headers=tokens.headers(Role.CLIENT, "bob", other_client_id))
    assert_problem(colleague, 429)


async def test_managers_and_requests_without_a_token_are_not_limited(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    for _ in range(REQUESTS * 3):
        managed = await api.get("/v1/me", headers=tokens.manager())
        assert managed.status_code == 200
        assert "RateLimit" not in managed.headers
        assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/v1/me")).status_code == 401


async def test_a_bulk_request_spends_as_many_items_as_it_carries(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = tokens.client(new_id())
    four = await api.post("/v1/things", json=[{"n": n} for n in range(4)], headers=client)
    assert four.json() == {"accepted": 4}
    assert '"items";r=6;' in four.headers["RateLimit"]

    seven = await api.post("/v1/things", json=[{"n": n} for n in range(7)], headers=client)

    body = assert_problem(seven, 429)
    assert body["detail"].startswith("this client may send 10 items a minute on this server")
    assert int(seven.headers["Retry-After"]) >= 1
    six = await api.post("/v1/things", json=[{"n": n} for n in range(6)], headers=client)
    assert six.json() == {"accepted": 6}


async def test_bodies_spend_their_bytes_declared_or_streamed(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    declared = tokens.client(new_id())
    first = await api.post("/v1/things", content=_things(1500), headers=declared)
    assert first.status_code == 200
    assert '"bytes";r=500;' in first.headers["RateLimit"]
    refused = await api.post("/v1/things", content=_things(1000), headers=declared)
    assert_problem(refused, 429)
    assert "bytes of request bodies a minute" in refused.json()["detail"]

    streamed = tokens.client(new_id())

    async def chunks(size: int) -> AsyncIterator[bytes]:
        yield _things(size)

    chunked = await api.post("/v1/things", content=chunks(1500), headers=streamed)
    assert chunked.status_code == 200
    refused = await api.post("/v1/things", content=chunks(1000), headers=streamed)
    assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1


def _things(size: int) -> bytes:
    """A JSON array of one thing, `size` bytes long."""
    return b'[{"pad": "' + b"x" * (size - 13) + b'"}]'


async def test_a_streamed_body_larger_than_the_bytes_quota_goes_through_when_nothing_is_owed(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    streamed = tokens.client(new_id())
    body = _things(3 * BYTES // 2)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    whole = await api.post("/v1/things", content=pieces(), headers=streamed)

    assert whole.json() == {"accepted": 1}
    assert '"bytes";r=0;' in whole.headers["RateLimit"]
    refused = await api.post("/v1/things", content=pieces(), headers=streamed)
    assert "bytes of request bodies a minute" in assert_problem(refused, 429)["detail"]


def page_cookie(token: str) -> list[tuple[str, str]]:
    """The headers the workbench page calls the API with, its cookie holding `token`."""
    return [("X-BPO-Page", "workbench"), ("Cookie", f"bpo_work={token}")]


async def test_a_request_sending_authorization_twice_is_refused_naming_the_header(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    cookie = page_cookie(tokens.token(Role.CLIENT, "client", client_id))
    # A first header the route would pass over (not Bearer), a second one whose token fails.
    headers = [("Authorization", "Basic eDp5"), ("Authorization", "Bearer junk"), *cookie]

    for _ in range(REQUESTS * 2):
        refused = await api.get("/v1/me", headers=headers)

        body = assert_problem(refused, 400)
        assert body["detail"] == "give the Authorization header once"
        assert body["errors"] == [{"field": "Authorization", "message": "sent 2 times; send one"}]
        assert "RateLimit" not in refused.headers

    # Refused, it spent nothing: the cookie alone is served, with the whole quota left but one.
    served = await api.get("/v1/me", headers=cookie)
    assert served.json() == {"subject": "client"}
    assert served.headers["RateLimit"].startswith('"requests";r=2;')


# The page's headers, one of them sent twice: the route reads the first X-BPO-Page and every
# Cookie header, and so must the limiter.
PAGE_HEADERS_TWICE = {
    "the page header": [("X-BPO-Page", "workbench"), ("X-BPO-Page", "other")],
    "the cookie": [("X-BPO-Page", "workbench"), ("Cookie", "theme=dark")],
}


@pytest.mark.parametrize("twice", PAGE_HEADERS_TWICE)
async def test_a_request_served_as_the_caller_its_page_cookie_names_spends_that_callers_quota(
    api: httpx.AsyncClient, tokens: Tokens, twice: str
) -> None:
    client_id = new_id()
    # Authorization that is not Bearer leaves the route to the page's cookie.
    headers = [
        ("Authorization", "Basic eDp5"),
        ("Cookie", f"bpo_work={tokens.token(Role.CLIENT, 'client', client_id)}"),
        *PAGE_HEADERS_TWICE[twice],
    ]
    for left in range(REQUESTS - 1, -1, -1):
        served = await api.get("/v1/me", headers=headers)
        assert served.json() == {"subject": "client"}
        assert served.headers.get("RateLimit") == f'"requests";r={left};t=20'

    refused = await api.get("/v1/me", headers=headers)

    body = assert_problem(refused, 429)
    assert (
        body["detail"] == "this client may send 3 requests a minute on this server; retry in 20 s"
    )
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["RateLimit"] == '"requests";r=0;t=20'
    assert "RateLimit-Policy" in refused.headers
    # The client's own bearer token spends the same quota.
    assert_problem(await api.get("/v1/me", headers=tokens.client(client_id)), 429)


async def test_a_bearer_token_that_fails_is_a_401_whatever_the_page_cookie_holds(
    api: httpx.AsyncClient, tokens: Tokens
) -> None:
    headers = [
        ("Authorization", "Bearer junk"),
        *page_cookie(tokens.token(Role.CLIENT, "client", new_id())),
    ]
    for _ in range(REQUESTS * 2):
        refused = await api.get("/v1/me", headers=headers)

        body = assert_problem(refused, 401)
        assert body["detail"] == "invalid token: Not enough segments"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
