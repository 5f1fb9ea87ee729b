"""Client webhooks: events sent to a client's URL, signed, retried for a day, every try visible.

Use cases call `enqueue` in their own transaction, like the outbox: a webhook leaves only for a
change that committed. The sender (`Sender`, run by a loop on every replica) claims due
deliveries by pushing `next_attempt_at` forward as a short lease and commits, sends with no row
lock held, then records the attempt. A sender that dies mid-send leaves its deliveries to be
tried again when the lease runs out, so a receiver may see one twice: it dedupes on `webhook-id`.

Clients share the sender fairly: it never waits for the slowest send before the next claim,
and it sends at most CLIENT_SENDING of one client's deliveries at once, claiming none of that
client's while any is on its way. A receiver that is slow, or does not answer until the
timeout, so holds up its own deliveries only.
"""

import asyncio
import contextlib
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import structlog
from pydantic import HttpUrl
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_intake.domain.webhooks import (
    Outcome,
    WebhookDeliveryStatus,
    WebhookEvent,
    after_attempt,
    payload,
    url_shown,
)
from bpo_intake.models import WebhookAttempt, WebhookDelivery
from bpo_intake.repository import webhooks as repository
from bpo_intake.schemas import (
    ClientWebhook,
    WebhookAttemptOut,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
)
from bpo_intake.service.webhook_http import check_webhook_url, send
from bpo_intake.settings import Settings

log = structlog.get_logger(__name__)

# Sends at once on one replica, and of them one client's.
SENDING = 50
CLIENT_SENDING = 10


async def enqueue(
    session: AsyncSession, client_id: UUID, event: WebhookEvent, data: dict[str, Any]
) -> None:
    """Queue an event for the client's webhook in the caller's transaction; none without a URL.

    `data` may hold UUIDs, datetimes and Decimals, which the payload carries as JSON strings.
    """
    url = await repository.client_webhook_url(session, client_id)
    if url is None:
        return
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id(),
        client_id=client_id,
        event_type=event.value,
        payload=payload(event, data, now),
        url=url,
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        delivered_at=None,
        last_error=None,
    )
    await repository.add_webhook_delivery(session, delivery)


async def set_webhook_url(
    session: AsyncSession, client_id: UUID, url: HttpUrl | None, *, allow_private: bool
) -> ClientWebhook:
    """Change or clear a client's webhook URL; its pending deliveries follow the change."""
    text = str(url) if url is not None else None
    if text is not None:
        await check_webhook_url(text, allow_private)
    if not await repository.set_client_webhook_url(session, client_id, text):
        raise NotFound(f"no client {client_id}")
    return ClientWebhook(client_id=client_id, webhook_url=text)


def _view(delivery: WebhookDelivery, scope: UUID | None) -> WebhookDeliveryOut:
    """A delivery as `scope` reads it: its client the URL whole, a manager masked."""
    return WebhookDeliveryOut(
        id=delivery.id,
        client_id=delivery.client_id,
        event_type=delivery.event_type,
        status=delivery.status,
        url=delivery.url if scope is not None else url_shown(delivery.url),
        payload=delivery.payload,
        attempt_count=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        last_error=delivery.last_error,
    )


async def list_deliveries(
    session: AsyncSession,
    scope: UUID | None,
    status: WebhookDeliveryStatus | None,
    page: PageRequest,
) -> Page[WebhookDeliveryOut]:
    rows = await repository.list_webhook_deliveries(session, scope, status, page)
    return make_page(rows, page, lambda delivery: _view(delivery, scope))


async def get_delivery(
    session: AsyncSession, delivery_id: UUID, scope: UUID | None
) -> WebhookDeliveryDetail:
    delivery = await repository.get_webhook_delivery(session, delivery_id, scope)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    attempts = await repository.webhook_attempts(session, delivery_id)
    return WebhookDeliveryDetail(
        **_view(delivery, scope).model_dump(),
        attempts=[WebhookAttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


# Sending


def _lease(settings: Settings) -> timedelta:
    # Longer than one send can take (it is bounded by webhook_timeout_s), so no other sender
    # takes a delivery that is still in flight.
    return timedelta(seconds=2 * settings.webhook_timeout_s + 30)


class Sender:
    """Tries due deliveries, each send a task of `sends`, without waiting for one to end
    before claiming more (see the module's docstring for the limits)."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: httpx.AsyncClient,
        settings: Settings,
        sends: asyncio.TaskGroup,
    ) -> None:
        self._sessions, self._http, self._settings, self._sends = sessions, http, settings, sends
        # Deliveries on their way, by client.
        self._sending: Counter[UUID] = Counter()
        self._ended = asyncio.Event()

    async def step(self, now: datetime) -> int:
        """Claim the deliveries due at `now` that may go now, and start sending them; returns
        how many it claimed."""
        self._ended.clear()  # what `idle` waits for from now on
        free = SENDING - self._sending.total()
        if free <= 0:
            return 0
        async with self._sessions() as session, session.begin():
            due = await repository.claim_webhook_deliveries(
                session,
                now,
                now + _lease(self._settings),
                limit=free,
                per_client=CLIENT_SENDING,
                busy=list(self._sending),
            )
        for delivery in due:
            self._sending[delivery.client_id] += 1
            self._sends.create_task(self._send(delivery, now))
        return len(due)

    async def idle(self, timeout_s: float) -> None:
        """Wait until a send ends after the last step began (a client of its may send again),
        or `timeout_s` passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), timeout_s)

    async def _send(self, delivery: repository.DueDelivery, now: datetime) -> None:
        try:
            await _deliver(self._sessions, self._http, self._settings, delivery, now)
        except Exception as exc:
            # The attempt is not recorded; the delivery is tried again when its lease ends.
            log.warning("recording a webhook attempt failed", delivery=delivery.id, error=repr(exc))
        finally:
            self._sending[delivery.client_id] -= 1
            if not self._sending[delivery.client_id]:
                del self._sending[delivery.client_id]
            self._ended.set()


async def _deliver(
    sessions: SessionFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    delivery: repository.DueDelivery,
    now: datetime,
) -> None:
    started = time.monotonic()
    if delivery.url is None:
        outcome = Outcome(None, "the client has removed its webhook URL", final=True)
    else:
        outcome = await send(
            http,
            delivery,
            delivery.url,
            now,
            allow_private=settings.webhook_allow_private,
            timeout_s=settings.webhook_timeout_s,
        )
    duration_ms = round((time.monotonic() - started) * 1000)
    attempt = delivery.attempts + 1
    after = after_attempt(outcome, attempt, now, delivery.created_at, settings.webhook_retry_hours)
    async with sessions() as session, session.begin():
        await repository.record_webhook_attempt(
            session,
            WebhookAttempt(
                id=new_id(),
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=duration_ms,
            ),
            after,
            url=delivery.url,
        )
