"""Rate limits per caller: requests, items and body bytes a minute, answered past a limit
with 429, `Retry-After` and the IETF fields `RateLimit-Policy` and `RateLimit`
(draft-ietf-httpapi-ratelimit-headers-10), which every limited caller's responses carry.

Whose quota a request spends is the verified token's: an API key's token (subject
`api-key:<key id>`) spends its key's, any other client token its client company's, a
contractor's token the contractor's. The token is the one the request's route authenticates
with (bpo_common.auth.request_token), so a request is metered as the caller it is served as.
Managers are not limited, nor are requests without a valid token (health, sign-in); a bad
token, or Authorization sent more than once, is left to the route, which refuses the
request (401, 400).

What a request spends: one request; its body's bytes, from `Content-Length` before anything
is read (or chunk by chunk as a body without one arrives); and the items a bulk route counts
as it parses them (`ItemCounter`).

The algorithm is GCRA (the generic cell rate algorithm): per caller and quota, one number,
the time at which what the caller spent is paid off. A quota of q a minute lets q go at once
and then one every 60/q seconds. A single request larger than the whole quota (one large
upload) goes through when nothing is owed as it starts spending it, though its items or
streamed bytes are charged a piece at a time as they are read, and the caller then waits until
it is paid off; only while all the caller owes is that request's own, though: once another
request of the caller has spent from the quota meanwhile, the large one is judged as a request
that owes (else parallel requests, each starting when nothing was owed, would all go through
whatever they sent).
(The `limits` library's memory strategies would keep a timestamp per unit spent, or let
twice a quota through at a window's edge, and cost several times more a check.)

The counts live in each process's memory, not in PostgreSQL: a check costs a microsecond or
two, where a shared counter would cost a round trip and a contended row per caller on every
request of the claim and submit path. With N replicas behind a balancer, a caller may spend
up to N times a quota: the settings are per replica.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpo_common.auth import API_KEY_SUBJECT, Principal, Role, request_token
from bpo_common.errors import DomainError, problem
from bpo_common.settings import ServiceSettings

WINDOW_S = 60
# A caller who owes nothing is as good as new: such callers are forgotten once more than
# this many are known.
MAX_CALLERS = 100_000
# Charges add up as floats; a quota spent exactly must not look overspent by a rounding.
_SLACK_S = 1e-6
_METER = "bpo_rate_meter"

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A charge's outcome, and the caller's quota after it."""

    allowed: bool
    remaining: int
    # Seconds until more of the quota is available again (0: nothing is owed).
    reset_s: int
    # When refused: seconds until the same charge would go through.
    retry_after_s: int = 0

    def field_item(self, quota: str) -> str:
        """What the `RateLimit` field says of the quota named `quota` after this charge."""
        return f'"{quota}";r={self.remaining};t={self.reset_s}'


class Quota:
    """`limit` units (requests, items or bytes) a window of `window_s` seconds (a minute
    unless said) for each caller, by GCRA: `limit` at once, then one every window_s / limit
    seconds."""

    def __init__(
        self,
        name: str,
        limit: int,
        unit: str,
        noun: str,
        clock: Clock,
        *,
        window_s: int = WINDOW_S,
        max_callers: int = MAX_CALLERS,
    ) -> None:
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self.noun = noun
        self.interval = window_s / limit
        self.policy = f'"{name}";q={limit}' + (f';qu="{unit}"' if unit else "") + f";w={window_s}"
        self._clock = clock
        self._paid_off_at: dict[str, float] = {}
        self._max_callers = self._sweep_at = max_callers

    def owes(self, caller: str) -> bool:
        """Whether `caller` has spent anything not yet paid off."""
        return self._paid_off_at.get(caller, 0.0) > self._clock()

    def paid_off_at(self, caller: str) -> float | None:
        """When what `caller` has spent is paid off; None when the caller is not known (it
        owes nothing)."""
        return self._paid_off_at.get(caller)

    def charged_since(self, caller: str, paid_off_at: float | None) -> bool:
        """Whether anything of `caller`'s was charged (or given back) since its spending was
        to be paid off at `paid_off_at`: a caller forgotten since owes nothing, so was not."""
        return self._paid_off_at.get(caller, paid_off_at) != paid_off_at

    def take(self, caller: str, cost: int, *, began_owing: bool | None = None) -> Verdict:
        """Spend `cost` of `caller`'s quota, unless that would overspend it.

        A body read as it arrives is charged a piece at a time, yet judged as one request:
        `began_owing` says, for a later piece, whether the request's first charge found
        anything owed, or another request's charge has added to what it owes since (None:
        this is the first). One that began owing nothing, and owes only what it spent, goes
        through whatever its size, as a single charge larger than the quota does."""
        now = self._clock()
        owed = max(self._paid_off_at.get(caller, now) - now, 0.0)
        after = owed + cost * self.interval
        first = began_owing is None
        if after > self.window_s + _SLACK_S and (owed > 0 if first else began_owing):
            # A first charge fits once what overflows is paid, or goes through alone once
            # nothing is owed. A later piece's request has spent what it read, so it would
            # only go through again once all of that is paid off too.
            wait = min(after - self.window_s, owed) if first else owed
            return self._verdict(owed, refused_for=wait)
        self._paid_off_at[caller] = now + after
        if len(self._paid_off_at) > self._sweep_at:
            self._sweep(now)
        return self._verdict(after)

    def give_back(self, caller: str, cost: int) -> None:
        """Return `cost` that `caller` spent (what it paid for turned out not to count)."""
        if caller in self._paid_off_at:
            self._paid_off_at[caller] -= cost * self.interval

    def _verdict(self, owed: float, refused_for: float | None = None) -> Verdict:
        remaining = max(0, math.floor((self.window_s - owed) / self.interval + 1e-9))
        reset = (
            0.0 if owed <= 0 else max(0.0, owed - self.window_s + (remaining + 1) * self.interval)
        )
        if refused_for is None:
            return Verdict(True, remaining, math.ceil(reset))
        return Verdict(False, remaining, math.ceil(reset), max(1, math.ceil(refused_for)))

    def _sweep(self, now: float) -> None:
        """Forget the callers who owe nothing (they start afresh, as they would anyway)."""
        self._paid_off_at = {k: at for k, at in self._paid_off_at.items() if at > now}
        self._sweep_at = max(self._max_callers, 2 * len(self._paid_off_at))


class RateLimiter:
    """The quotas of one process: each is off when its setting is 0."""

    def __init__(
        self,
        *,
        requests_per_minute: int,
        items_per_minute: int,
        bytes_per_minute: int,
        clock: Clock = time.monotonic,
    ) -> None:
        def quota(name: str, per_minute: int, unit: str, noun: str) -> Quota | None:
            return Quota(name, per_minute, unit, noun, clock) if per_minute > 0 else None

        # Requests are the draft's default unit; items are this API's own.
        self.requests = quota("requests", requests_per_minute, "", "requests")
        self.items = quota("items", items_per_minute, "items", "items")
        self.bytes = quota("bytes", bytes_per_minute, "content-bytes", "bytes of request bodies")
        quotas = [q for q in (self.requests, self.items, self.bytes) if q is not None]
        self.enabled = bool(quotas)
        self.policy = ", ".join(q.policy for q in quotas)

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, clock: Clock = time.monotonic
    ) -> "RateLimiter":
        return cls(
            requests_per_minute=settings.rate_limit_requests_per_minute,
            items_per_minute=settings.rate_limit_items_per_minute,
            bytes_per_minute=settings.rate_limit_bytes_per_minute,
            clock=clock,
        )


def caller_of(principal: Principal) -> str | None:
    """Whose quota a principal's requests spend; None for a manager, who is not limited."""
    if principal.role is Role.MANAGER:
        return None
    if principal.role is Role.CONTRACTOR:
        return f"contractor:{principal.subject}"
    if principal.subject.startswith(API_KEY_SUBJECT):
        return principal.subject
    return f"client:{principal.client_id}"


_WHO = {"api-key": "this API key", "client": "this client", "contractor": "this contractor"}


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"


class Meter:
    """One request's caller, and what the request has spent of each quota."""

    __slots__ = ("began_owing", "caller", "left_owing_until", "limiter", "spent")

    def __init__(self, limiter: RateLimiter, caller: str) -> None:
        self.limiter = limiter
        self.caller = caller
        self.spent: dict[str, Verdict] = {}
        # Per quota, whether the request's first charge of it found anything owed, or
        # another request of the caller has charged it since.
        self.began_owing: dict[str, bool] = {}
        # Per quota, when the caller's spending was to be paid off after this request's last
        # charge of it went through.
        self.left_owing_until: dict[str, float | None] = {}

    def take(self, quota: Quota, cost: int) -> Verdict:
        """Spend `cost` of the caller's quota on this request: its items and streamed bytes
        are charged as they are read, and judged as one charge of them all while no other
        request of the caller charges the quota in between."""
        began_owing = self.began_owing.get(quota.name)
        if began_owing is None:
            self.began_owing[quota.name] = quota.owes(self.caller)
        elif not began_owing and quota.charged_since(
            self.caller, self.left_owing_until[quota.name]
        ):
            # Part of what the caller owes is another request's now: going past the quota
            # on it would let requests started side by side each spend a whole quota and more.
            began_owing = self.began_owing[quota.name] = True
        verdict = quota.take(self.caller, cost, began_owing=began_owing)
        if verdict.allowed:
            self.left_owing_until[quota.name] = quota.paid_off_at(self.caller)
        self.spent[quota.name] = verdict
        return verdict

    def count_items(self, count: int) -> None:
        """Spend `count` items; TooManyRequests past the caller's quota."""
        if self.limiter.items is None or count <= 0:
            return
        verdict = self.take(self.limiter.items, count)
        if not verdict.allowed:
            raise TooManyRequests(
                self.refusal(self.limiter.items, verdict),
                headers={"Retry-After": str(verdict.retry_after_s)},
            )

    def refusal(self, quota: Quota, verdict: Verdict) -> str:
        who = _WHO[self.caller.split(":", 1)[0]]
        return (
            f"{who} may send {quota.limit} {quota.noun} a minute on this server; "
            f"retry in {verdict.retry_after_s} s"
        )

    def headers(self) -> dict[str, str]:
        spent = ", ".join(verdict.field_item(name) for name, verdict in self.spent.items())
        return {"RateLimit-Policy": self.limiter.policy, "RateLimit": spent}


# A function a bulk route tells how many items it has read; it raises TooManyRequests past
# the caller's quota.
Count = Callable[[int], None]


def _uncounted(count: int) -> None:
    return None


async def item_counter(request: Request) -> Count:
    meter: Meter | None = request.scope.get("state", {}).get(_METER)
    return _uncounted if meter is None else meter.count_items


ItemCounter = Annotated[Count, Depends(item_counter)]


class RateLimitMiddleware:
    """Charges each request of a limited caller, refuses it with 429 past a quota, and adds
    the RateLimit fields to the answer."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        meter = await self._meter(scope) if scope["type"] == "http" else None
        if meter is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        charges = [(self.limiter.requests, 1), (self.limiter.bytes, declared or 0)]
        for quota, cost in charges:
            if quota is not None and cost > 0 and not (verdict := meter.take(quota, cost)).allowed:
                headers = meter.headers() | {"Retry-After": str(verdict.retry_after_s)}
                refused = problem(429, TooManyRequests.title, meter.refusal(quota, verdict),
                                  headers=headers)  # fmt: skip
                await refused(scope, receive, send)
                return
        scope.setdefault("state", {})[_METER] = meter
        body_quota = self.limiter.bytes if declared is None else None

        async def metered_receive() -> Message:
            message = await receive()
            size = len(message.get("body", b""))
            if body_quota is not None and size and not (v := meter.take(body_quota, size)).allowed:
                # FastAPI turns any other error raised while it reads the body into a 400.
                retry = {"Retry-After": str(v.retry_after_s)}
                raise HTTPException(429, meter.refusal(body_quota, v), headers=retry)
            return message

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = [(k.lower().encode(), v.encode()) for k, v in meter.headers().items()]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, metered_receive, send_with_limits)

    async def _meter(self, scope: Scope) -> Meter | None:
        """The meter of the request's caller; None when it is not limited."""
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if not self.limiter.enabled or runtime is None:
            return None
        try:
            token = request_token(HTTPConnection(scope))
            if token is None:
                return None
            principal: Principal = await runtime.verifier.verify(token)
        except DomainError:
            return None
        caller = caller_of(principal)
        return None if caller is None else Meter(self.limiter, caller)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
