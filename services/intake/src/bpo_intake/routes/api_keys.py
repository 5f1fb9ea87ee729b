"""API keys: a client's systems authenticate with them at the token endpoint; admins make
them for any client, a client for itself."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from bpo_common import audit
from bpo_common.auth import MANAGE_KEYS, Principal, Role, Scope, require_role
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_intake.domain.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from bpo_intake.service import api_keys
from bpo_intake.service.api_keys import SecretChecks

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], route_class=CheckedRoute)

# Managers with the admin scope, every client's keys; a client its own, with its own token (a
# token of an API key may not manage keys, so that no key outlives its revocation).
KeyKeeper = Annotated[
    Principal,
    Depends(require_role(Role.CLIENT, Role.MANAGER, manager=[Scope.ADMIN], client=[MANAGE_KEYS])),
]


async def secret_checks(request: Request) -> SecretChecks:
    checks: SecretChecks = request.app.state.secret_checks
    return checks


# What the process spends on checking and hashing secrets (scrypt).
SecretChecksDep = Annotated[SecretChecks, Depends(secret_checks)]


# No Idempotency-Key: a replay would have to show the secret again, which is never stored.
@router.post("", status_code=201, response_model=ApiKeyCreated, responses={404: PROBLEM_RESPONSE})
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, caller: KeyKeeper, checks: SecretChecksDep
) -> ApiKeyCreated:
    """Make an API key for a client's systems, with scopes its maker could use on that
    client's data; the answer shows its secret, this once."""
    created = await api_keys.create_key(session, checks, caller, body, utcnow())
    audit.summarize(
        session, client_id=created.client_id, scopes=created.scopes, expires_at=created.expires_at
    )
    return created


@router.get("")
async def list_api_keys(
    session: SessionDep,
    caller: KeyKeeper,
    page: PageDep,
    client_id: Annotated[UUID | None, Query(description="only this client's keys")] = None,
) -> Page[ApiKeyOut]:
    """List API keys, oldest first, revoked ones too: a client its own, an admin every
    client's. Secrets are never shown again."""
    return await api_keys.list_keys(session, caller.scope(), client_id, page)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: UUID, session: SessionDep, caller: KeyKeeper) -> None:
    """Revoke an API key: it gets no new token (those it has run out within minutes)."""
    now = utcnow()
    await api_keys.revoke_key(session, key_id, caller.scope(), now)
    audit.summarize(session, revoked_at=now)
