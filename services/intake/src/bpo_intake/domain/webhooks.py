"""Client webhooks: the signing secret, Standard Webhooks signatures, where a webhook may go,
and what one try at sending it means for the delivery.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): `webhook-signature` is
`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the
base64-decoded part of the client's `whsec_...` secret. `verify` is what a receiver runs.
"""

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic_core import to_jsonable_python

from bpo_common.clock import utcnow
from bpo_common.errors import FieldError, Invalid
from bpo_common.rules import MASK

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# How far a signed timestamp may be from the receiver's clock before `verify` refuses it.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(hours=1)
MAX_ERROR_LENGTH = 500
PUBLIC_ONLY = "webhooks may only go to public addresses"


class WebhookEvent(StrEnum):
    JOB_COMPLETED = "job.completed"
    ITEM_REJECTED = "item.rejected"
    # An invoice does not match its purchase order: the client resolves it on validation.
    ITEM_EXCEPTION = "item.exception"
    # What an adaptive job delivered, once validation estimated it.
    JOB_ACCURACY = "job.accuracy"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def payload(event: WebhookEvent, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The body a receiver gets; UUIDs, datetimes and Decimals in `data` become JSON strings."""
    return {
        "type": event.value,
        "timestamp": to_jsonable_python(now),
        "data": to_jsonable_python(data),
    }


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


# Where a webhook may go


class WebhookUrlRefused(Invalid):
    """A webhook URL that may not be called, for its scheme or for where its host points."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the webhook_url is refused: {reason}", errors=[FieldError("webhook_url", reason)]
        )
        self.reason = reason


def why_not_public(address: IPAddress) -> str | None:
    """What kind of address this is when it is not a public one (loopback, private, ...)."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1, and so does 6to4's 2002:7f00:1:: where routed.
        address = address.ipv4_mapped or address.sixtofour or address
    kinds = {
        "an unspecified address": address.is_unspecified,
        "a loopback address": address.is_loopback,
        "a link-local address": address.is_link_local,
        # fec0::/10, deprecated but still routed inside some networks, counts as global.
        "a site-local address": isinstance(address, ipaddress.IPv6Address)
        and address.is_site_local,
        "a multicast address": address.is_multicast,
        "a private address": address.is_private,
        "a reserved address": address.is_reserved,
        "not a public address": not address.is_global,
    }
    return next((kind for kind, applies in kinds.items() if applies), None)


def refusal(host: str, addresses: list[IPAddress]) -> str | None:
    """Why a host resolving to `addresses` may not receive webhooks; None when it may."""
    for address in addresses:
        kind = why_not_public(address)
        if kind is not None:
            where = host if host == str(address) else f"{host} resolves to {address}, which"
            return f"{where} is {kind}; {PUBLIC_ONLY}"
    return None


def url_shown(url: str) -> str:
    """A webhook URL as a manager reads it: its scheme, host and port, which say where the
    events go, and MASK in place of a user and password, a path, a query or a fragment, any
    of which may carry a token of the client's (as the audit trail records no URL at all)."""
    parts = urlsplit(url)
    _, at, host = parts.netloc.rpartition("@")
    shown = f"{parts.scheme}://{MASK + at if at else ''}{host}"
    shown += f"/{MASK}" if parts.path not in ("", "/") else "/"
    shown += f"?{MASK}" if parts.query else ""
    return shown + (f"#{MASK}" if parts.fragment else "")


# Retrying


def retry_delay(attempt: int) -> timedelta:
    """The wait after the `attempt`-th failed try: 5 s doubling to 1 h, minus up to 20 % jitter."""
    delay: timedelta = min(FIRST_RETRY * 2 ** min(attempt - 1, 20), MAX_RETRY)
    return delay * random.uniform(0.8, 1.0)


def clip(text: str) -> str:
    """An error message short enough to keep."""
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


@dataclass(frozen=True)
class Outcome:
    """What one try at sending a delivery got."""

    status_code: int | None
    error: str | None
    # Not worth retrying: the URL is refused or gone.
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class AfterAttempt:
    """A delivery's state after a try."""

    status: WebhookDeliveryStatus
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


def after_attempt(
    outcome: Outcome, attempt: int, tried_at: datetime, created_at: datetime, retry_hours: float
) -> AfterAttempt:
    """Delivered; pending again after `retry_delay` while within `retry_hours` of creation;
    or failed, for good."""
    if outcome.delivered:
        return AfterAttempt(WebhookDeliveryStatus.DELIVERED, None, tried_at, outcome.error)
    if not outcome.final:
        retry_at = tried_at + retry_delay(attempt)
        if retry_at <= created_at + timedelta(hours=retry_hours):
            return AfterAttempt(WebhookDeliveryStatus.PENDING, retry_at, None, outcome.error)
        gave_up = f"{outcome.error}; gave up after {attempt} attempts in {retry_hours:g} h"
        return AfterAttempt(WebhookDeliveryStatus.FAILED, None, None, gave_up)
    return AfterAttempt(WebhookDeliveryStatus.FAILED, None, None, outcome.error)
