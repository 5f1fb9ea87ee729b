"""API keys: a client's systems get short-lived tokens with them (OAuth 2.0 client
credentials), which every service accepts with the key's scopes."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv6Address, ip_address, ip_network
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import (
    API_KEY_SUBJECT,
    KeyScope,
    Principal,
    Role,
    issue_token,
    signing_algorithm_of,
)
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.ratelimit import Clock, Quota, TooManyRequests
from bpo_intake.domain.api_keys import (
    UNKNOWN_CLIENT,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    Grant,
    OAuthError,
    TokenRefused,
    check_expiry,
    check_scopes,
    decoy_hash,
    granted,
    hash_secret,
    new_secret,
    secret_matches,
    usable,
)
from bpo_intake.models import ApiKey
from bpo_intake.repository import api_keys as repository
from bpo_intake.repository.clients import client_exists
from bpo_intake.settings import Settings


class SecretChecks:
    """What the process spends on scrypt, whose every run takes 16 MiB and some 50 ms of a
    core on purpose: token requests are counted per caller's address (an IPv6 one by its
    /64) before any secret is checked, `attempts` a window of `window_s` seconds (GCRA, as
    bpo_common.ratelimit: a burst of `attempts`, then one every window_s / attempts seconds),
    past which the address's requests are refused; a request that gets a token is given its
    count back, so that clients behind one address (a proxy not named in BPO_TRUSTED_PROXIES,
    a NAT) never run out by using their keys. At most `at_once` runs go at a time. Not per
    key: whoever knows a key's id could then keep its owner from getting tokens with wrong
    secrets."""

    def __init__(
        self, attempts: int, window_s: int, at_once: int, clock: Clock = time.monotonic
    ) -> None:
        self._quota = (
            Quota("token-address", attempts, "", "", clock, window_s=window_s) if attempts else None
        )
        self._slots = asyncio.Semaphore(at_once)

    @classmethod
    def of(cls, settings: Settings, clock: Clock = time.monotonic) -> "SecretChecks":
        return cls(
            settings.api_key_token_attempts,
            settings.api_key_token_window_s,
            settings.api_key_checks_at_once,
            clock,
        )

    def granted(self, address: str | None) -> None:
        """The address's request got a token: its count is given back."""
        if self._quota is not None:
            self._quota.give_back(_network(address), 1)

    def admit(self, address: str | None) -> None:
        """Count a token request; TooManyRequests past the limit."""
        quota = self._quota
        if quota is None:
            return
        verdict = quota.take(_network(address), 1)
        if not verdict.allowed:
            raise TooManyRequests(
                f"too many token requests that got no token from this address: {quota.limit} "
                f"every {quota.window_s} s on this server; retry in {verdict.retry_after_s} s, "
                "with the key's id and secret as they were given",
                headers={
                    "Retry-After": str(verdict.retry_after_s),
                    "RateLimit-Policy": quota.policy,
                    "RateLimit": verdict.field_item(quota.name),
                },
            )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the `at_once` runs; what waits for one holds no database connection yet."""
        async with self._slots:
            yield


def _network(address: str | None) -> str:
    """Whose attempts these are: the address, or the /64 an IPv6 address is one of (a host
    usually has a whole /64 to take addresses from)."""
    try:
        parsed = ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if not isinstance(parsed, IPv6Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ip_network(f"{parsed}/64", strict=False))


def _view(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


async def create_key(
    session: AsyncSession,
    checks: SecretChecks,
    caller: Principal,
    command: ApiKeyCreate,
    now: datetime,
) -> ApiKeyCreated:
    """A new key of the caller's client (a manager's: the one named), with its secret; only
    the secret's hash is kept. Its scopes are ones the caller could use on that client's data."""
    client_id = _owner(caller, command.client_id)
    if not await client_exists(session, client_id):
        raise NotFound(f"no client {client_id}")
    check_expiry(command.expires_at, now)
    check_scopes(caller, command.scopes)
    secret = new_secret()
    # scrypt takes tens of milliseconds on purpose: off the event loop.
    async with checks.slot():
        secret_hash = await asyncio.to_thread(hash_secret, secret)
    key = ApiKey(
        id=new_id(),
        client_id=client_id,
        name=command.name,
        scopes=[scope.value for scope in KeyScope if scope in command.scopes],
        secret_hash=secret_hash,
        created_by=caller.subject,
        created_at=now,
        expires_at=command.expires_at,
        revoked_at=None,
        last_used_at=None,
    )
    await repository.add_api_key(session, key)
    return ApiKeyCreated(**_view(key).model_dump(), secret=secret)


def _owner(caller: Principal, client_id: UUID | None) -> UUID:
    """The client a new key is for: the one a manager names, or the calling client's own."""
    if caller.role is Role.MANAGER:
        if client_id is None:
            raise Invalid(
                "name the client the key is for",
                errors=[FieldError("client_id", "required when a manager makes a key")],
            )
        return client_id
    assert caller.client_id is not None, "a client token always names its client"
    if client_id is not None and client_id != caller.client_id:
        raise NotFound(f"no client {client_id}")
    return caller.client_id


async def list_keys(
    session: AsyncSession, scope: UUID | None, client_id: UUID | None, page: PageRequest
) -> Page[ApiKeyOut]:
    rows = await repository.list_api_keys(session, scope, client_id, page)
    return make_page(rows, page, _view)


async def revoke_key(
    session: AsyncSession, key_id: UUID, scope: UUID | None, now: datetime
) -> None:
    if not await repository.revoke_api_key(session, key_id, scope, now):
        raise NotFound(f"no API key {key_id}")


# The token endpoint


@dataclass(frozen=True)
class TokenSigner:
    """How intake signs its API keys' tokens: the key, its algorithm, and the claims every
    service checks."""

    private_key: str
    algorithm: str
    issuer: str
    audience: str
    ttl: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "TokenSigner | None":
        pem = settings.api_key_signing_key()
        if pem is None:
            return None
        ttl = timedelta(seconds=settings.api_key_token_ttl_s)
        return cls(
            pem, signing_algorithm_of(pem), settings.api_key_issuer, settings.jwt_audience, ttl
        )


async def grant_token(
    session: AsyncSession,
    signer: TokenSigner | None,
    checks: SecretChecks,
    address: str | None,
    client_id: str,
    client_secret: str,
    requested: str | None,
    now: datetime,
) -> Grant:
    """A token for the API key `client_id` whose secret is `client_secret`, with the scopes
    asked for (all the key's by default): a client's token, `sub` api-key:<id>. `address`:
    the caller's, whose requests that get no token are counted (TooManyRequests past the
    limit)."""
    if signer is None:
        raise TokenRefused(
            OAuthError.UNAUTHORIZED_CLIENT,
            "this platform issues no tokens for API keys (intake has no signing key)",
        )
    key_id = _key_id(client_id)
    checks.admit(address)
    async with checks.slot():
        key = None if key_id is None else await repository.get_api_key(session, key_id, None)
        # A secret is checked even when the key is unknown: the answer takes as long either way.
        stored = key.secret_hash if key is not None else await asyncio.to_thread(decoy_hash)
        matches = await asyncio.to_thread(secret_matches, client_secret, stored)
    if key is None or not matches:
        raise TokenRefused(OAuthError.INVALID_CLIENT, UNKNOWN_CLIENT)
    usable(key.revoked_at, key.expires_at, now)
    scopes = granted(key.scopes, requested)  # before the key counts as used: a token comes
    # Again under the key's lock: a revocation that committed meanwhile refuses it too.
    usable(*await repository.mark_api_key_used(session, key.id, now), now)
    # A token does not outlive its key.
    ttl = min(signer.ttl, key.expires_at - now) if key.expires_at else signer.ttl
    token = issue_token(
        signer.private_key,
        subject=f"{API_KEY_SUBJECT}{key.id}",
        role=Role.CLIENT,
        issuer=signer.issuer,
        audience=signer.audience,
        client_id=key.client_id,
        ttl=ttl,
        algorithm=signer.algorithm,
        scopes=scopes,
        token_id=str(new_id()),
    )
    checks.granted(address)
    return Grant(token, int(ttl.total_seconds()), scopes)


def _key_id(client_id: str) -> UUID | None:
    try:
        return UUID(client_id)
    except ValueError:
        return None
