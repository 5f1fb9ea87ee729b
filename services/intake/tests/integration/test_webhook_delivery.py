"""Client webhooks: signed deliveries to a real receiver, retries over moved time, SSRF refusals.

The apps here stop their own webhook sender, so each test drives `Sender.step` with the `now`
it chooses; one test lets a sender run as it does in production. Other tests may leave deliveries
pending in the shared database, so these judge by their own receiver and rows, never by how many
deliveries a pass tried."""

import asyncio
import itertools
import json
from datetime import datetime, timedelta

import httpx

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    eventually,
    serve,
)
from bpo_intake.app import create_app
from bpo_intake.domain.webhooks import WebhookDeliveryStatus, WebhookEvent
from bpo_intake.service.webhooks import CLIENT_SENDING, SENDING
from bpo_intake.settings import Settings

from .conftest import Send
from .receiver import (
    Received,
    enqueue_delivery,
    load_attempts,
    load_delivery,
    pending_delivery,
    receiver,
    register_hooked_client,
    verifies,
)


async def test_receiver_verifies_the_signature_and_gets_the_event(
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens
) -> None:
    async with receiver(204) as hook:
        client_id, secret = await register_hooked_client(lenient, tokens, hook.url)
        hook.secret = secret
        job_id = new_id()
        delivery_id = await enqueue_delivery(
            db,
            client_id,
            WebhookEvent.JOB_COMPLETED,
            {"job_id": job_id, "counts": {"completed": 3}},
        )
        now = utcnow()

        await send(now)

    assert secret.startswith("whsec_")
    (request,) = hook.received
    assert (request.method, request.path) == ("POST", "/hooks/bpo")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == str(delivery_id)
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert verifies(secret, request, now)
    assert not verifies(secret, Received(**{**vars(request), "body": b"{}"}), now)
    event = json.loads(request.body)
    assert event["type"] == "job.completed"
    assert event["data"] == {"job_id": str(job_id), "counts": {"completed": 3}}
    delivery = await load_delivery(db, delivery_id)
    assert datetime.fromisoformat(event["timestamp"]) == delivery.created_at
    assert delivery.payload == event
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.delivered_at, delivery.last_error) == (1, now, None)
    assert delivery.next_attempt_at is None
    (attempt,) = await load_attempts(db, delivery.id)
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (now, 204, None)
    assert attempt.duration_ms >= 0


async def test_the_sender_running_in_the_app_delivers_by_itself(
    lenient_settings: Settings, tokens: Tokens
) -> None:
    app = create_app(lenient_settings)
    async with receiver(200) as hook, serve(app) as api:
        client_id, secret = await register_hooked_client(api, tokens, hook.url)
        hook.secret = secret
        delivery_id = await enqueue_delivery(
            app.state.runtime.sessions, client_id, WebhookEvent.ITEM_REJECTED
        )

        async def delivered() -> bool:
            response = await api.get(
                f"/v1/webhooks/deliveries/{delivery_id}", headers=tokens.client(client_id)
            )
            return bool(response.json()["status"] == "delivered")

        await eventually(delivered, timeout_s=10, what="delivery by the app's own sender")

    (request,) = hook.received
    assert json.loads(request.body)["type"] == "item.rejected"
    assert verifies(secret, request, utcnow())


async def test_a_receiver_that_keeps_the_sender_waiting_holds_up_no_other_clients_webhooks(
    lenient_settings: Settings, tokens: Tokens
) -> None:
    app = create_app(lenient_settings)
    async with receiver(204) as slow, receiver(204) as fast, serve(app) as api:
        slow.answer_after = asyncio.Event()
        slow_client, _ = await register_hooked_client(api, tokens, slow.url)
        fast_client, _ = await register_hooked_client(api, tokens, fast.url)
        sessions = app.state.runtime.sessions
        # More than the sender sends at once, all older than the other client's.
        for _ in range(SENDING + 10):
            await enqueue_delivery(sessions, slow_client)
        await enqueue_delivery(sessions, fast_client)

        async def delivered() -> bool:
            return len(fast.received) == 1

        await eventually(delivered, timeout_s=5, what="the other client's webhook")
        assert len(slow.received) <= CLIENT_SENDING
        slow.answer_after.set()


async def test_failed_tries_are_retried_with_growing_delays_and_shown_in_the_api(
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens
) -> None:
    async with receiver(500, 500, 200) as hook:
        client_id, secret, delivery_id = await pending_delivery(lenient, db, tokens, hook.url)
        first = utcnow()

        await send(first)
        after_first = await load_delivery(db, delivery_id)
        assert after_first.next_attempt_at is not None
        second = after_first.next_attempt_at
        await send(second - timedelta(seconds=1))
        assert len(hook.received) == 1, "not due yet, not tried"
        await send(second)
        after_second = await load_delivery(db, delivery_id)
        assert after_second.next_attempt_at is not None
        third = after_second.next_attempt_at
        await send(third)

    assert after_first.status is WebhookDeliveryStatus.PENDING
    assert after_first.last_error == "the receiver answered HTTP 500"
    first_delay, second_delay = second - first, third - second
    assert timedelta(seconds=4) <= first_delay <= timedelta(seconds=5)
    assert timedelta(seconds=8) <= second_delay <= timedelta(seconds=10)
    assert second_delay > first_delay
    assert [r.headers["webhook-id"] for r in hook.received] == [str(delivery_id)] * 3
    for request, sent_at in zip(hook.received, (first, second, third), strict=True):
        assert request.headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
        assert verifies(secret, request, sent_at)

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
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens
) -> None:
    async with receiver(503) as hook:
        # Earlier tests' deliveries on the shared database would be due at every step of the
        # day walked through below: tried once two days on, they are over.
        while await send(utcnow() + timedelta(days=2)):
            pass
        _, _, delivery_id = await pending_delivery(lenient, db, tokens, hook.url)
        delivery = await load_delivery(db, delivery_id)
        now = delivery.created_at
        tries = 0
        while delivery.next_attempt_at is not None and tries < 100:
            now = delivery.next_attempt_at
            await send(now)
            tries += 1
            delivery = await load_delivery(db, delivery_id)
        await send(now + timedelta(days=2))

    deadline = delivery.created_at + timedelta(hours=24)
    attempts = await load_attempts(db, delivery.id)
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
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens
) -> None:
    async with receiver(204) as hook:
        _, _, delivery_id = await pending_delivery(lenient, db, tokens, hook.url)
        now = utcnow()

        await asyncio.gather(*(send(now) for _ in range(4)))

    assert [r.headers["webhook-id"] for r in hook.received] == [str(delivery_id)]
    delivery = await load_delivery(db, delivery_id)
    assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 1)
    assert len(await load_attempts(db, delivery.id)) == 1
