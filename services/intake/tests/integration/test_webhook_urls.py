"""Where webhooks may go (SSRF refusals), a changed URL, and who sees which deliveries."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bpo_common.auth import Scope
from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)
from bpo_intake.domain.webhooks import WebhookDeliveryStatus, WebhookEvent
from bpo_intake.models import Client
from bpo_intake.settings import Settings

from .conftest import Send, send_once
from .receiver import (
    PUBLIC_ONLY,
    enqueue_delivery,
    load_attempts,
    load_delivery,
    pending_delivery,
    receiver,
    register_hooked_client,
)

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
    pytest.param(
        "https://hooks..example.com/x",
        "https://hooks..example.com/x has no valid host name: a part of hooks..example.com is",
        id="empty-label",
    ),
    pytest.param(
        f"https://{'a' * 64}.example.com/",
        f"https://{'a' * 64}.example.com/ has no valid host name",
        id="label-too-long",
    ),
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
        client_id, _, delivery_id = await pending_delivery(lenient, db, tokens, hook.url)
        now = utcnow()

        await send_once(db, http, strict_settings, now)

    refusal = f"refused: 127.0.0.1 is a loopback address; {PUBLIC_ONLY}"
    assert hook.received == []
    delivery = await load_delivery(db, delivery_id)
    assert delivery.status is WebhookDeliveryStatus.FAILED
    assert (delivery.attempts, delivery.next_attempt_at) == (1, None)
    assert delivery.last_error == refusal
    (attempt,) = await load_attempts(db, delivery.id)
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (now, None, refusal)
    shown = await lenient.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=tokens.client(client_id)
    )
    assert shown.json()["attempts"][0]["error"] == refusal


async def test_manager_changes_the_url_and_pending_deliveries_follow_it(
    lenient: httpx.AsyncClient,
    strict: httpx.AsyncClient,
    db: SessionFactory,
    send: Send,
    tokens: Tokens,
) -> None:
    async with receiver(500) as old, receiver(200) as new:
        client_id, _, delivery_id = await pending_delivery(lenient, db, tokens, old.url)
        await send(utcnow())

        changed = await lenient.put(
            f"/v1/clients/{client_id}/webhook",
            json={"webhook_url": new.url},
            headers=tokens.manager(),
        )
        retry_at = (await load_delivery(db, delivery_id)).next_attempt_at
        assert retry_at is not None
        await send(retry_at)

    assert changed.status_code == 200, changed.text
    assert changed.json() == {"client_id": str(client_id), "webhook_url": new.url}
    assert (len(old.received), len(new.received)) == (1, 1)
    delivery = await load_delivery(db, delivery_id)
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
    after_clearing = await enqueue_delivery(db, client_id, WebhookEvent.ITEM_REJECTED)

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


async def test_clients_see_only_their_own_deliveries_and_contractors_none(
    lenient: httpx.AsyncClient, db: SessionFactory, send: Send, tokens: Tokens
) -> None:
    async with receiver(204) as hook:
        acme, _ = await register_hooked_client(lenient, tokens, hook.url)
        globex, _ = await register_hooked_client(lenient, tokens, hook.url)
        acme_ids = [str(await enqueue_delivery(db, acme)) for _ in range(3)]
        globex_id = str(await enqueue_delivery(db, globex))
        await send(utcnow())
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


async def test_a_manager_reads_a_deliverys_url_without_what_may_carry_the_clients_token(
    lenient: httpx.AsyncClient, db: SessionFactory, tokens: Tokens
) -> None:
    url = "http://erp:pa55@127.0.0.1:9/hooks/bpo?token=s3cr3t"
    client_id, _ = await register_hooked_client(lenient, tokens, url)
    delivery_id = await enqueue_delivery(db, client_id)
    one = f"/v1/webhooks/deliveries/{delivery_id}"

    # Ops, and the admin who set the URL, follow its deliveries.
    for manager in (tokens.manager(), tokens.manager(Scope.OPS), tokens.manager(Scope.ADMIN)):
        listed = await _listed(lenient, manager)
        alone = await lenient.get(one, headers=manager)
        assert listed[str(delivery_id)]["url"] == "http://•••@127.0.0.1:9/•••?•••"
        assert alone.json()["url"] == "http://•••@127.0.0.1:9/•••?•••"
        for answer in (str(listed), alone.text):
            assert "s3cr3t" not in answer
            assert "pa55" not in answer
    own = await lenient.get(one, headers=tokens.client(client_id))
    assert own.json()["url"] == url, "the client reads its own URL whole"


async def _listed(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every pending delivery the caller may see, page after page, by id."""
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, str | int] = {"status": "pending", "limit": 500}
    while True:
        page = (await api.get("/v1/webhooks/deliveries", params=params, headers=headers)).json()
        found |= {delivery["id"]: delivery for delivery in page["data"]}
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]
