"""Client webhooks: signed deliveries to a real receiver, retries over moved time, SSRF refusals.

The apps here stop their own webhook sender, so each test drives `deliver_due` with the `now`
it chooses; one test lets a sender run as it does in production. Other tests may leave deliveries
pending in the shared database, so these judge by their own receiver and rows, never by how many
deliveries a pass tried.
"""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    TestStack,
    Tokens,
    assert_problem,
    error_fields,
    eventually,
    serve,
)
from bpo_intake import webhooks
from bpo_intake.app import create_app
from bpo_intake.models import Client, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus
from bpo_intake.settings import Settings

PUBLIC_ONLY = "webhooks may only go to public addresses"


# A receiver on 127.0.0.1


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of its script (the last one repeats).

    Given the client's secret it checks the signature as a client's endpoint would, against
    its own clock, and answers 401 to a request that fails the check.
    """

    statuses: Sequence[int]
    secret: str | None = None
    url: str = ""
    received: list[Received] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Received(method, path, headers, body)
            self.received.append(request)
            status = self._answer(request)
            writer.write(
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                "content-length: 0\r\nconnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    def _answer(self, request: Received) -> int:
        if self.secret is not None and not webhooks.verify(
            self.secret,
            request.headers["webhook-id"],
            request.headers["webhook-timestamp"],
            request.body,
            request.headers["webhook-signature"],
        ):
            return 401
        return self.statuses[min(len(self.received), len(self.statuses)) - 1]


@asynccontextmanager
async def receiver(*statuses: int, secret: str | None = None) -> AsyncIterator[Receiver]:
    hook = Receiver(statuses or (204,), secret)
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks/bpo"
    async with server:
        yield hook


# Apps, sessions and helpers


@asynccontextmanager
async def _serve_without_sender(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as api:
        (sender,) = [t for t in app.state.runtime.tasks if t.get_name() == "deliver_webhooks"]
        sender.cancel()
        yield api


@pytest.fixture(scope="module")
def lenient_settings(stack: TestStack) -> Settings:
    """Settings that let webhooks go to this machine, where the test receivers listen."""
    return stack.settings(Settings, "intake", webhook_allow_private=True)


@pytest.fixture(scope="module")
def strict_settings(stack: TestStack) -> Settings:
    return stack.settings(Settings, "intake")


@pytest.fixture(scope="module")
def lenient_app(lenient_settings: Settings) -> FastAPI:
    return create_app(lenient_settings)


@pytest.fixture(scope="module")
async def lenient(lenient_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve_without_sender(lenient_app) as api:
        yield api


@pytest.fixture(scope="module")
async def strict(strict_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve_without_sender(create_app(strict_settings)) as api:
        yield api


@pytest.fixture(scope="module")
def db(lenient_app: FastAPI, lenient: httpx.AsyncClient) -> SessionFactory:
    sessions: SessionFactory = lenient_app.state.runtime.sessions
    return sessions


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


async def _register(api: httpx.AsyncClient, tokens: Tokens, url: str | None) -> tuple[UUID, str]:
    """A client with this webhook URL; returns its id and signing secret."""
    response = await api.post(
        "/v1/clients",
        json={"name": f"Hooked {new_id()}", "webhook_url": url},
        headers=tokens.manager(),
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"]), response.json()["webhook_secret"]


async def _enqueue(
    db: SessionFactory,
    client_id: UUID,
    event_type: str = "job.completed",
    data: dict[str, Any] | None = None,
) -> UUID | None:
    """Queue an event as a use case would, in its own transaction; returns the new delivery."""
    async with db() as session, session.begin():
        await webhooks.enqueue(session, client_id, event_type, data or {"job_id": new_id()})
    async with db() as session:
        return await session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.client_id == client_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        )


async def _delivery(db: SessionFactory, delivery_id: UUID | None) -> WebhookDelivery:
    async with db() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return delivery


async def _attempts(db: SessionFactory, delivery_id: UUID) -> list[WebhookAttempt]:
    async with db() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.attempted_at)
            )
        )


def _verifies(secret: str, request: Received, now: datetime) -> bool:
    headers = request.headers
    return webhooks.verify(
        secret,
        headers["webhook-id"],
        headers["webhook-timestamp"],
        request.body,
        headers["webhook-signature"],
        now=now,
    )


# Signing


def test_signing_matches_the_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", b'{"test": 2432232314}'
    signed_at = datetime.fromtimestamp(1614265330).astimezone()

    signature = webhooks.sign(secret, msg_id, 1614265330, body)

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.verify(secret, msg_id, "1614265330", body, signature, now=signed_at)
    assert webhooks.verify(
        secret, msg_id, "1614265330", body, f"v1,c3RhbGU= {signature}", now=signed_at
    ), "one valid signature among several (a rotated secret) is enough"
    forgeries = {
        "another body": (secret, msg_id, "1614265330", b'{"test": 1}', signature, signed_at),
        "another id": (secret, "msg_other", "1614265330", body, signature, signed_at),
        "another secret": (webhooks.new_secret(), msg_id, "1614265330", body, signature, signed_at),
        "another version": (secret, msg_id, "1614265330", body, "v2" + signature[2:], signed_at),
        "replayed later": (
            secret,
            msg_id,
            "1614265330",
            body,
            signature,
            signed_at + timedelta(minutes=6),
        ),
        "not a timestamp": (secret, msg_id, "soon", body, signature, signed_at),
    }
    for why, (key, id_, timestamp, content, header, now) in forgeries.items():
        assert not webhooks.verify(key, id_, timestamp, content, header, now=now), why


async def test_receiver_verifies_the_signature_and_gets_the_event(
    lenient: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(204) as hook:
        client_id, secret = await _register(lenient, tokens, hook.url)
        hook.secret = secret
        job_id = new_id()
        delivery_id = await _enqueue(
            db, client_id, "job.completed", {"job_id": job_id, "counts": {"completed": 3}}
        )
        now = utcnow()

        await webhooks.deliver_due(db, http, lenient_settings, now)

    assert secret.startswith("whsec_")
    (request,) = hook.received
    assert (request.method, request.path) == ("POST", "/hooks/bpo")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == str(delivery_id)
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert _verifies(secret, request, now)
    assert not _verifies(secret, Received(**{**vars(request), "body": b"{}"}), now)
    event = json.loads(request.body)
    assert event["type"] == "job.completed"
    assert event["data"] == {"job_id": str(job_id), "counts": {"completed": 3}}
    delivery = await _delivery(db, delivery_id)
    assert datetime.fromisoformat(event["timestamp"]) == delivery.created_at
    assert delivery.payload == event
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.delivered_at, delivery.last_error) == (1, now, None)
    assert delivery.next_attempt_at is None
    (attempt,) = await _attempts(db, delivery.id)
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (now, 204, None)
    assert attempt.duration_ms >= 0


async def test_the_sender_running_in_the_app_delivers_by_itself(
    lenient_settings: Settings, tokens: Tokens
) -> None:
    app = create_app(lenient_settings)
    async with receiver(200) as hook, serve(app) as api:
        client_id, secret = await _register(api, tokens, hook.url)
        hook.secret = secret
        delivery_id = await _enqueue(app.state.runtime.sessions, client_id, "item.rejected")

        async def delivered() -> bool:
            response = await api.get(
                f"/v1/webhooks/deliveries/{delivery_id}", headers=tokens.client(client_id)
            )
            return bool(response.json()["status"] == "delivered")

        await eventually(delivered, timeout_s=10, what="delivery by the app's own sender")

    (request,) = hook.received
    assert json.loads(request.body)["type"] == "item.rejected"
    assert _verifies(secret, request, utcnow())


# Retries


async def test_failed_tries_are_retried_with_growing_delays_and_shown_in_the_api(
    lenient: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(500, 500, 200) as hook:
        client_id, secret = await _register(lenient, tokens, hook.url)
        delivery_id = await _enqueue(db, client_id)
        first = utcnow()

        await webhooks.deliver_due(db, http, lenient_settings, first)
        after_first = await _delivery(db, delivery_id)
        assert after_first.next_attempt_at is not None
        second = after_first.next_attempt_at
        await webhooks.deliver_due(db, http, lenient_settings, second - timedelta(seconds=1))
        assert len(hook.received) == 1, "not due yet, not tried"
        await webhooks.deliver_due(db, http, lenient_settings, second)
        after_second = await _delivery(db, delivery_id)
        assert after_second.next_attempt_at is not None
        third = after_second.next_attempt_at
        await webhooks.deliver_due(db, http, lenient_settings, third)

    assert after_first.status is WebhookDeliveryStatus.PENDING
    assert after_first.last_error == "the receiver answered HTTP 500"
    first_delay, second_delay = second - first, third - second
    assert timedelta(seconds=4) <= first_delay <= timedelta(seconds=5)
    assert timedelta(seconds=8) <= second_delay <= timedelta(seconds=10)
    assert second_delay > first_delay
    assert [r.headers["webhook-id"] for r in hook.received] == [str(delivery_id)] * 3
    for request, sent_at in zip(hook.received, (first, second, third), strict=True):
        assert request.headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
        assert _verifies(secret, request, sent_at)

    shown = await lenient.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=tokens.client(client_id)
    )

    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["status"] == "delivered"
    assert body["attempt_count"] == 3
    assert body["url"] == hook.url
    assert body["next_attempt_at"] is None
    assert body["last_error"] is None
    assert datetime.fromisoformat(body["delivered_at"]) == third
    assert [
        (datetime.fromisoformat(a["attempted_at"]), a["status_code"], a["error"])
        for a in body["attempts"]
    ] == [
        (first, 500, "the receiver answered HTTP 500"),
        (second, 500, "the receiver answered HTTP 500"),
        (third, 200, None),
    ]


async def test_a_delivery_still_failing_after_24_hours_is_given_up(
    lenient: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(503) as hook:
        client_id, _ = await _register(lenient, tokens, hook.url)
        delivery_id = await _enqueue(db, client_id)
        delivery = await _delivery(db, delivery_id)
        now = delivery.created_at
        tries = 0
        while delivery.next_attempt_at is not None and tries < 100:
            now = delivery.next_attempt_at
            await webhooks.deliver_due(db, http, lenient_settings, now)
            tries += 1
            delivery = await _delivery(db, delivery_id)
        await webhooks.deliver_due(db, http, lenient_settings, now + timedelta(days=2))

    deadline = delivery.created_at + timedelta(hours=24)
    attempts = await _attempts(db, delivery.id)
    times = [attempt.attempted_at for attempt in attempts]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert delivery.status is WebhookDeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert len(hook.received) == len(attempts) == delivery.attempts == tries
    assert 25 <= tries <= 45, "about ten doubling delays, then about one an hour"
    assert times[0] == delivery.created_at
    assert deadline - timedelta(hours=1) < times[-1] <= deadline
    assert max(gaps) <= timedelta(hours=1)
    assert {attempt.status_code for attempt in attempts} == {503}
    assert delivery.last_error == (
        f"the receiver answered HTTP 503; gave up after {tries} attempts in 24 h"
    )


async def test_two_senders_at_once_send_a_delivery_once(
    lenient: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(204) as hook:
        client_id, _ = await _register(lenient, tokens, hook.url)
        delivery_id = await _enqueue(db, client_id)
        now = utcnow()

        await asyncio.gather(
            *(webhooks.deliver_due(db, http, lenient_settings, now) for _ in range(4))
        )

    assert [r.headers["webhook-id"] for r in hook.received] == [str(delivery_id)]
    delivery = await _delivery(db, delivery_id)
    assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 1)
    assert len(await _attempts(db, delivery.id)) == 1


# Where webhooks may go

REFUSED_URLS = [
    pytest.param("http://127.0.0.1/", f"127.0.0.1 is a loopback address; {PUBLIC_ONLY}", id="v4"),
    pytest.param(
        "http://localhost/",
        "localhost resolves to",  # 127.0.0.1 or ::1, as the machine's resolver says
        id="localhost",
    ),
    pytest.param(
        "http://169.254.169.254/latest",
        f"169.254.169.254 is a link-local address; {PUBLIC_ONLY}",
        id="cloud-metadata",
    ),
    pytest.param("http://10.0.0.1/", f"10.0.0.1 is a private address; {PUBLIC_ONLY}", id="rfc1918"),
    pytest.param("http://[::1]/", f"::1 is a loopback address; {PUBLIC_ONLY}", id="v6-loopback"),
    pytest.param(
        "http://[::ffff:127.0.0.1]/",
        f"::ffff:7f00:1 is a loopback address; {PUBLIC_ONLY}",
        id="v4-mapped-v6",
    ),
    pytest.param(
        "http://0.0.0.0:8001/", f"0.0.0.0 is an unspecified address; {PUBLIC_ONLY}", id="any"
    ),
    pytest.param("ftp://example.com/", "URL scheme should be 'http' or 'https'", id="ftp"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED_URLS)
async def test_a_client_with_a_non_public_webhook_url_is_refused_and_not_stored(
    strict: httpx.AsyncClient, db: SessionFactory, tokens: Tokens, url: str, message: str
) -> None:
    name = f"Sneaky {new_id()}"

    response = await strict.post(
        "/v1/clients", json={"name": name, "webhook_url": url}, headers=tokens.manager()
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["webhook_url"]
    assert problem["errors"][0]["message"].startswith(message)
    if url.startswith("http://localhost"):
        assert problem["errors"][0]["message"].endswith(f"loopback address; {PUBLIC_ONLY}")
    async with db() as session:
        assert await session.scalar(select(func.count()).where(Client.name == name)) == 0


async def test_a_url_saved_while_allowed_is_refused_when_sent_while_not(
    lenient: httpx.AsyncClient,
    strict_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(204) as hook:
        client_id, _ = await _register(lenient, tokens, hook.url)
        delivery_id = await _enqueue(db, client_id)
        now = utcnow()

        await webhooks.deliver_due(db, http, strict_settings, now)

    refusal = f"refused: 127.0.0.1 is a loopback address; {PUBLIC_ONLY}"
    assert hook.received == []
    delivery = await _delivery(db, delivery_id)
    assert delivery.status is WebhookDeliveryStatus.FAILED
    assert (delivery.attempts, delivery.next_attempt_at) == (1, None)
    assert delivery.last_error == refusal
    (attempt,) = await _attempts(db, delivery.id)
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (now, None, refusal)
    shown = await lenient.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=tokens.client(client_id)
    )
    assert shown.json()["attempts"][0]["error"] == refusal


async def test_manager_changes_the_url_and_pending_deliveries_follow_it(
    lenient: httpx.AsyncClient,
    strict: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(500) as old, receiver(200) as new:
        client_id, _ = await _register(lenient, tokens, old.url)
        delivery_id = await _enqueue(db, client_id)
        await webhooks.deliver_due(db, http, lenient_settings, utcnow())

        changed = await lenient.put(
            f"/v1/clients/{client_id}/webhook",
            json={"webhook_url": new.url},
            headers=tokens.manager(),
        )
        retry_at = (await _delivery(db, delivery_id)).next_attempt_at
        assert retry_at is not None
        await webhooks.deliver_due(db, http, lenient_settings, retry_at)

    assert changed.status_code == 200, changed.text
    assert changed.json() == {"client_id": str(client_id), "webhook_url": new.url}
    assert (len(old.received), len(new.received)) == (1, 1)
    delivery = await _delivery(db, delivery_id)
    assert (delivery.status, delivery.url) == (WebhookDeliveryStatus.DELIVERED, new.url)

    refused = await strict.put(
        f"/v1/clients/{client_id}/webhook",
        json={"webhook_url": "http://10.1.2.3/hook"},
        headers=tokens.manager(),
    )
    as_client = await lenient.put(
        f"/v1/clients/{client_id}/webhook",
        json={"webhook_url": None},
        headers=tokens.client(client_id),
    )
    unknown = await lenient.put(
        f"/v1/clients/{new_id()}/webhook", json={"webhook_url": None}, headers=tokens.manager()
    )
    cleared = await lenient.put(
        f"/v1/clients/{client_id}/webhook", json={"webhook_url": None}, headers=tokens.manager()
    )
    after_clearing = await _enqueue(db, client_id, "item.rejected")

    problem = assert_problem(refused, 422)
    assert problem["errors"] == [
        {"field": "webhook_url", "message": f"10.1.2.3 is a private address; {PUBLIC_ONLY}"}
    ]
    assert assert_problem(as_client, 403)["detail"].startswith("this needs the role manager")
    assert assert_problem(unknown, 404)["detail"].startswith("no client ")
    assert cleared.json() == {"client_id": str(client_id), "webhook_url": None}
    assert after_clearing == delivery_id, "no URL, no delivery"
    async with db() as session:
        stored = await session.get(Client, client_id)
    assert stored is not None
    assert stored.webhook_url is None


# Who sees which deliveries


async def test_clients_see_only_their_own_deliveries_and_contractors_none(
    lenient: httpx.AsyncClient,
    lenient_settings: Settings,
    db: SessionFactory,
    http: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    async with receiver(204) as hook:
        acme, _ = await _register(lenient, tokens, hook.url)
        globex, _ = await _register(lenient, tokens, hook.url)
        acme_ids = [str(await _enqueue(db, acme)) for _ in range(3)]
        globex_id = str(await _enqueue(db, globex))
        await webhooks.deliver_due(db, http, lenient_settings, utcnow())
        assert len(hook.received) == 4

    first = await lenient.get("/v1/webhooks/deliveries?limit=2", headers=tokens.client(acme))
    rest = await lenient.get(
        "/v1/webhooks/deliveries",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=tokens.client(acme),
    )
    failed = await lenient.get("/v1/webhooks/deliveries?status=failed", headers=tokens.client(acme))
    foreign = await lenient.get(f"/v1/webhooks/deliveries/{globex_id}", headers=tokens.client(acme))
    own = await lenient.get(f"/v1/webhooks/deliveries/{globex_id}", headers=tokens.client(globex))
    managed = await lenient.get(
        "/v1/webhooks/deliveries?status=delivered&limit=500", headers=tokens.manager()
    )
    contractor_list = await lenient.get(
        "/v1/webhooks/deliveries", headers=tokens.contractor(new_id())
    )
    contractor_one = await lenient.get(
        f"/v1/webhooks/deliveries/{globex_id}", headers=tokens.contractor(new_id())
    )

    listed = first.json()["data"] + rest.json()["data"]
    assert [d["id"] for d in listed] == acme_ids
    assert {d["client_id"] for d in listed} == {str(acme)}
    assert rest.json()["next_cursor"] is None
    assert failed.json() == {"data": [], "next_cursor": None}
    assert assert_problem(foreign, 404)["detail"] == f"no webhook delivery {globex_id}"
    assert own.status_code == 200, own.text
    assert (own.json()["client_id"], own.json()["status"]) == (str(globex), "delivered")
    assert {*acme_ids, globex_id} <= {d["id"] for d in managed.json()["data"]}
    assert {d["status"] for d in managed.json()["data"]} == {"delivered"}
    for response in (contractor_list, contractor_one):
        assert assert_problem(response, 403)["detail"] == (
            "this needs the role client, manager; the token has contractor"
        )
