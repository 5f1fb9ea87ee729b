"""Client webhooks: events sent to a client's URL, signed, retried for a day, every try visible.

Use cases call `enqueue` in their own transaction, like the outbox: a webhook leaves only for a
change that committed. The sender (`deliver_webhooks`, one loop per replica) claims due
deliveries by pushing `next_attempt_at` forward as a short lease and commits, sends with no row
lock held, then records the attempt. A sender that dies mid-send leaves its deliveries to be
tried again when the lease runs out, so a receiver may see one twice: it dedupes on `webhook-id`.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): `webhook-signature` is
`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the
base64-decoded part of the client's `whsec_...` secret. `verify` is what a receiver runs.

A URL is checked when saved and again before every send: http or https, and every address its
host resolves to public (not loopback, private, link-local, ...) unless `webhook_allow_private`
is set. The request then goes to the address that was checked, with the URL's Host header and TLS
name, so a DNS answer that changes between the check and the connection cannot redirect it.
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import httpx
import structlog
from pydantic import HttpUrl
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_common.loops import stop_if_cancelled
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.service import Runtime
from bpo_intake import repository
from bpo_intake.models import WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus
from bpo_intake.schemas import (
    ClientWebhook,
    WebhookAttemptOut,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
)
from bpo_intake.settings import Settings

log = structlog.get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookEvent(StrEnum):
    JOB_COMPLETED = "job.completed"
    ITEM_REJECTED = "item.rejected"


SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# How far a signed timestamp may be from the receiver's clock before `verify` refuses it.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(hours=1)
BATCH_SIZE = 50
IDLE_WAIT_S = 1.0
SAVE_TIME_DNS_TIMEOUT_S = 5.0
MAX_ERROR_LENGTH = 500


# Signing


def new_secret() -> str:
    """A client's signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of a message: `v1,` and base64(HMAC-SHA256(id.ts.body))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    msg_id: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = TIMESTAMP_TOLERANCE,
) -> bool:
    """Whether a received webhook is genuine, given its `webhook-*` headers and the raw body.

    `signature` may hold several space-separated signatures (while a secret is rotated); one
    matching `v1` signature is enough. A timestamp further than `tolerance` from `now` is
    refused, so a captured request cannot be replayed later.
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((now or utcnow()).timestamp() - sent_at) > tolerance.total_seconds():
        return False
    expected = sign(secret, msg_id, sent_at, body).encode()
    return any(
        candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected)
        for candidate in signature.split()
    )


# Where a URL may point


class WebhookUrlRefused(Invalid):
    """A webhook URL that may not be called, for its scheme or for where its host points."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the webhook_url is refused: {reason}", errors=[FieldError("webhook_url", reason)]
        )
        self.reason = reason


class WebhookHostUnresolved(Exception):
    """The URL's host has no address right now; that may change, so a send is retried."""


def _why_not_public(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    kinds = {
        "an unspecified address": address.is_unspecified,
        "a loopback address": address.is_loopback,
        "a link-local address": address.is_link_local,
        "a multicast address": address.is_multicast,
        "a private address": address.is_private,
        "a reserved address": address.is_reserved,
        "not a public address": not address.is_global,
    }
    return next((kind for kind, applies in kinds.items() if applies), None)


async def resolve_webhook_url(
    url: str, allow_private: bool, *, timeout_s: float = SAVE_TIME_DNS_TIMEOUT_S
) -> list[IPAddress]:
    """The addresses `url` may be sent to, or WebhookUrlRefused, or WebhookHostUnresolved."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookUrlRefused(f"{url} is not a valid URL") from exc
    if parsed.scheme not in {"http", "https"}:
        raise WebhookUrlRefused(f"{url} must use http or https, not {parsed.scheme or 'nothing'}")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise WebhookUrlRefused(f"{url} has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except TimeoutError as exc:  # before OSError, its base class
        raise WebhookHostUnresolved(f"could not resolve {host} within {timeout_s:g} s") from exc
    except OSError as exc:  # socket.gaierror
        raise WebhookHostUnresolved(f"could not resolve {host}: {exc.strerror or exc}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            kind = _why_not_public(address)
            if kind is not None:
                where = host if host == str(address) else f"{host} resolves to {address}, which"
                raise WebhookUrlRefused(
                    f"{where} is {kind}; webhooks may only go to public addresses"
                )
    return addresses


async def check_webhook_url(url: str, allow_private: bool) -> None:
    """Refuse (422, naming webhook_url) a URL that is not http(s) or points to a non-public host.

    A host that does not resolve yet passes: it points nowhere that could be refused, its
    record may not be published yet, and every send checks again.
    """
    with suppress(WebhookHostUnresolved):
        await resolve_webhook_url(url, allow_private)


# Use cases


async def enqueue(
    session: AsyncSession, client_id: UUID, event_type: str, data: dict[str, Any]
) -> None:
    """Queue an event for the client's webhook in the caller's transaction; none without a URL.

    `event_type` is a WebhookEvent value; `data` may hold UUIDs, datetimes and Decimals, which
    the payload carries as JSON strings.
    """
    event = WebhookEvent(event_type)
    url = await repository.client_webhook_url(session, client_id)
    if url is None:
        return
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id(),
        client_id=client_id,
        event_type=event.value,
        payload={
            "type": event.value,
            "timestamp": to_jsonable_python(now),
            "data": to_jsonable_python(data),
        },
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


def _view(delivery: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        client_id=delivery.client_id,
        event_type=delivery.event_type,
        status=delivery.status,
        url=delivery.url,
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
    return make_page(rows, page, _view)


async def get_delivery(
    session: AsyncSession, delivery_id: UUID, scope: UUID | None
) -> WebhookDeliveryDetail:
    delivery = await repository.get_webhook_delivery(session, delivery_id, scope)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    attempts = await repository.webhook_attempts(session, delivery_id)
    return WebhookDeliveryDetail(
        **_view(delivery).model_dump(),
        attempts=[WebhookAttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


# Sending


def retry_delay(attempt: int) -> timedelta:
    """The wait after the `attempt`-th failed try: 5 s doubling to 1 h, minus up to 20 % jitter."""
    delay: timedelta = min(FIRST_RETRY * 2 ** min(attempt - 1, 20), MAX_RETRY)
    return delay * random.uniform(0.8, 1.0)


def _lease(settings: Settings) -> timedelta:
    # Longer than one send can take (it is bounded by webhook_timeout_s), so no other sender
    # takes a delivery that is still in flight.
    return timedelta(seconds=2 * settings.webhook_timeout_s + 30)


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    # Not worth retrying: the URL is refused or gone.
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def deliver_due(
    sessions: SessionFactory, http: httpx.AsyncClient, settings: Settings, now: datetime
) -> int:
    """Try once every delivery due at `now` (up to BATCH_SIZE); returns how many were tried."""
    async with sessions() as session, session.begin():
        due = await repository.claim_webhook_deliveries(
            session, now, now + _lease(settings), BATCH_SIZE
        )
    results = await asyncio.gather(
        *(_deliver(sessions, http, settings, delivery, now) for delivery in due),
        return_exceptions=True,
    )
    for delivery, result in zip(due, results, strict=True):
        if isinstance(result, BaseException):
            # The attempt is not recorded; the delivery is tried again when its lease ends.
            log.warning(
                "recording a webhook attempt failed", delivery=delivery.id, error=repr(result)
            )
    return len(due)


async def _deliver(
    sessions: SessionFactory,
    http: httpx.AsyncClient,
    settings: Settings,
    delivery: repository.DueDelivery,
    now: datetime,
) -> None:
    started = time.monotonic()
    if delivery.url is None:
        outcome = _Outcome(None, "the client has removed its webhook URL", final=True)
    else:
        outcome = await _send(http, settings, delivery, delivery.url, now)
    duration_ms = round((time.monotonic() - started) * 1000)
    attempt = delivery.attempts + 1
    status, next_attempt_at, last_error = WebhookDeliveryStatus.FAILED, None, outcome.error
    if outcome.delivered:
        status = WebhookDeliveryStatus.DELIVERED
    elif not outcome.final:
        retry_at = now + retry_delay(attempt)
        if retry_at <= delivery.created_at + timedelta(hours=settings.webhook_retry_hours):
            status, next_attempt_at = WebhookDeliveryStatus.PENDING, retry_at
        else:
            last_error = (
                f"{outcome.error}; gave up after {attempt} attempts "
                f"in {settings.webhook_retry_hours:g} h"
            )
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
            status=status,
            next_attempt_at=next_attempt_at,
            delivered_at=now if outcome.delivered else None,
            last_error=last_error,
            url=delivery.url,
        )


async def _send(
    http: httpx.AsyncClient,
    settings: Settings,
    delivery: repository.DueDelivery,
    url: str,
    now: datetime,
) -> _Outcome:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    msg_id, timestamp = str(delivery.id), int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "bpo-intake-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.secret, msg_id, timestamp, body),
    }
    timeout_s = settings.webhook_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            addresses = await resolve_webhook_url(
                url, settings.webhook_allow_private, timeout_s=timeout_s
            )
            status_code = await _post_to_checked_address(
                http, httpx.URL(url), addresses, headers, body, timeout_s
            )
    except WebhookUrlRefused as exc:
        return _Outcome(None, _clip(f"refused: {exc.reason}"), final=True)
    except WebhookHostUnresolved as exc:
        return _Outcome(None, _clip(str(exc)))
    except (TimeoutError, httpx.TimeoutException):
        return _Outcome(None, f"no answer within {timeout_s:g} s")
    except httpx.ConnectError as exc:
        return _Outcome(None, _clip(f"could not connect: {str(exc) or type(exc).__name__}"))
    except httpx.HTTPError as exc:
        return _Outcome(None, _clip(f"{type(exc).__name__}: {exc}"))
    if 200 <= status_code < 300:
        return _Outcome(status_code, None)
    redirect = "; redirects are not followed" if 300 <= status_code < 400 else ""
    return _Outcome(status_code, f"the receiver answered HTTP {status_code}{redirect}")


async def _post_to_checked_address(
    http: httpx.AsyncClient,
    url: httpx.URL,
    addresses: Sequence[IPAddress],
    headers: Mapping[str, str],
    body: bytes,
    timeout_s: float,
) -> int:
    """POST to each checked address in turn until one connects; returns the status code."""
    host = url.raw_host.decode("ascii")
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    # A connection pinned to an address and verified for one client's host name is not reused
    # for another client's request to that address.
    pinned_headers = {**headers, "host": url.netloc.decode("ascii"), "connection": "close"}
    failure: httpx.ConnectError | None = None
    for address in addresses:
        request = http.build_request(
            "POST",
            url.copy_with(host=str(address)),
            content=body,
            headers=pinned_headers,
            timeout=timeout_s,
            extensions=extensions,
        )
        try:
            response = await http.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            failure = exc
            continue
        # The answer's body is never read, so a receiver cannot make the sender buffer it.
        await response.aclose()
        return response.status_code
    assert failure is not None, "getaddrinfo returns at least one address"
    raise failure


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


async def deliver_webhooks(runtime: Runtime) -> None:
    """Send due webhooks for the app's lifetime; every replica runs one, side by side."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    # Straight to the checked address: a proxy from the environment would resolve it again.
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False
    ) as http:
        while True:
            try:
                tried = await deliver_due(runtime.sessions, http, settings, utcnow())
            except Exception as exc:  # the database is away: try again shortly
                stop_if_cancelled()
                log.warning("webhook sender failed, retrying", error=repr(exc))
                tried = 0
            if tried == 0:
                await asyncio.sleep(IDLE_WAIT_S)
