"""API keys: a client's systems get short-lived tokens with them (OAuth 2.0 client
credentials), which every service accepts with the key's scopes."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import API_KEY_SUBJECT, KeyScope, Principal, Role, algorithm_of, issue_token
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_intake.domain.api_keys import (
    UNKNOWN_CLIENT,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    Grant,
    OAuthError,
    TokenRefused,
    check_expiry,
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


def _view(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


async def create_key(
    session: AsyncSession, caller: Principal, command: ApiKeyCreate, now: datetime
) -> ApiKeyCreated:
    """A new key of the caller's client (a manager's: the one named), with its secret; only
    the secret's hash is kept."""
    client_id = _owner(caller, command.client_id)
    if not await client_exists(session, client_id):
        raise NotFound(f"no client {client_id}")
    check_expiry(command.expires_at, now)
    secret = new_secret()
    key = ApiKey(
        id=new_id(),
        client_id=client_id,
        name=command.name,
        scopes=[scope.value for scope in KeyScope if scope in command.scopes],
        # scrypt takes tens of milliseconds on purpose: off the event loop.
        secret_hash=await asyncio.to_thread(hash_secret, secret),
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
        return cls(pem, algorithm_of(pem), settings.api_key_issuer, settings.jwt_audience, ttl)


async def grant_token(
    session: AsyncSession,
    signer: TokenSigner | None,
    client_id: str,
    client_secret: str,
    requested: str | None,
    now: datetime,
) -> Grant:
    """A token for the API key `client_id` whose secret is `client_secret`, with the scopes
    asked for (all the key's by default): a client's token, `sub` api-key:<id>."""
    if signer is None:
        raise TokenRefused(
            OAuthError.UNAUTHORIZED_CLIENT,
            "this platform issues no tokens for API keys (intake has no signing key)",
        )
    key = await _key(session, client_id)
    # A secret is checked even when the key is unknown: the answer takes as long either way.
    stored = key.secret_hash if key is not None else await asyncio.to_thread(decoy_hash)
    matches = await asyncio.to_thread(secret_matches, client_secret, stored)
    if key is None or not matches:
        raise TokenRefused(OAuthError.INVALID_CLIENT, UNKNOWN_CLIENT)
    usable(key.revoked_at, key.expires_at, now)
    # Again under the key's lock: a revocation that committed meanwhile refuses it too.
    usable(*await repository.mark_api_key_used(session, key.id, now), now)
    scopes = granted(key.scopes, requested)
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
    return Grant(token, int(ttl.total_seconds()), scopes)


async def _key(session: AsyncSession, client_id: str) -> ApiKey | None:
    try:
        key_id = UUID(client_id)
    except ValueError:
        return None
    return await repository.get_api_key(session, key_id, None)
