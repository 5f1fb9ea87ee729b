"""Sending a webhook over HTTP, and checking where it may go.

A URL is checked when saved and again before every send: http or https, and every address its
host resolves to public (not loopback, private, link-local, ...) unless `webhook_allow_private`
is set. The request then goes to the address that was checked, with the URL's Host header and TLS
name, so a DNS answer that changes between the check and the connection cannot redirect it.
"""

import asyncio
import ipaddress
import json
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime
from functools import partial

import httpx

from bpo_intake.domain.webhooks import (
    IPAddress,
    Outcome,
    WebhookUrlRefused,
    clip,
    refusal,
    sign,
)
from bpo_intake.repository.webhooks import DueDelivery

SAVE_TIME_DNS_TIMEOUT_S = 5.0


def target(url: str) -> tuple[str, int]:
    """The host and port a webhook URL calls, parsed as the sender parses it; WebhookUrlRefused
    for a URL that is not http or https, or has no host name a resolver takes."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookUrlRefused(f"{url} is not a valid URL") from exc
    if parsed.scheme not in {"http", "https"}:
        raise WebhookUrlRefused(f"{url} must use http or https, not {parsed.scheme or 'nothing'}")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise WebhookUrlRefused(f"{url} has no host")
    try:
        host.encode("idna")  # as the resolver will
    except UnicodeError as exc:
        raise WebhookUrlRefused(
            f"{url} has no valid host name: a part of {host} is empty or longer than 63 characters"
        ) from exc
    return host, parsed.port or (443 if parsed.scheme == "https" else 80)


# Lookups run on threads of their own: one a timeout gave up on keeps its thread until the
# resolver's own timeout, and a client whose name servers do not answer would otherwise hold
# the threads that rendering, OCR and uploads share.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class WebhookHostUnresolved(Exception):
    """The URL's host has no address right now; that may change, so a send is retried."""


async def resolve_webhook_url(
    url: str, allow_private: bool, *, timeout_s: float = SAVE_TIME_DNS_TIMEOUT_S
) -> list[IPAddress]:
    """The addresses `url` may be sent to, or WebhookUrlRefused, or WebhookHostUnresolved."""
    host, port = target(url)
    try:
        async with asyncio.timeout(timeout_s):
            found = await asyncio.get_running_loop().run_in_executor(
                _RESOLVER, partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
            )
    except TimeoutError as exc:  # before OSError, its base class
        raise WebhookHostUnresolved(f"could not resolve {host} within {timeout_s:g} s") from exc
    except OSError as exc:  # socket.gaierror
        raise WebhookHostUnresolved(f"could not resolve {host}: {exc.strerror or exc}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    refused = None if allow_private else refusal(host, addresses)
    if refused is not None:
        raise WebhookUrlRefused(refused)
    return addresses


async def check_webhook_url(url: str, allow_private: bool) -> None:
    """Refuse (422, naming webhook_url) a URL that is not http(s) or points to a non-public host.

    A host that does not resolve yet passes: it points nowhere that could be refused, its
    record may not be published yet, and every send checks again.
    """
    with suppress(WebhookHostUnresolved):
        await resolve_webhook_url(url, allow_private)


async def send(
    http: httpx.AsyncClient,
    delivery: DueDelivery,
    url: str,
    now: datetime,
    *,
    allow_private: bool,
    timeout_s: float,
) -> Outcome:
    """One signed POST of a delivery to `url`, checked first; what it got."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    msg_id, timestamp = str(delivery.id), int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "bpo-intake-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(delivery.secret, msg_id, timestamp, body),
    }
    try:
        async with asyncio.timeout(timeout_s):
            addresses = await resolve_webhook_url(url, allow_private, timeout_s=timeout_s)
            status_code = await _post_to_checked_address(
                http, httpx.URL(url), addresses, headers, body, timeout_s
            )
    except WebhookUrlRefused as exc:
        return Outcome(None, clip(f"refused: {exc.reason}"), final=True)
    except WebhookHostUnresolved as exc:
        return Outcome(None, clip(str(exc)))
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, f"no answer within {timeout_s:g} s")
    except httpx.ConnectError as exc:
        return Outcome(None, clip(f"could not connect: {str(exc) or type(exc).__name__}"))
    except httpx.HTTPError as exc:
        return Outcome(None, clip(f"{type(exc).__name__}: {exc}"))
    if 200 <= status_code < 300:
        return Outcome(status_code, None)
    redirect = "; redirects are not followed" if 300 <= status_code < 400 else ""
    return Outcome(status_code, f"the receiver answered HTTP {status_code}{redirect}")


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
