"""Authorization as FastAPI dependencies: each route names who may call it (roles) and, within
a role, the scope its token needs (a manager's `Scope`, a client's API key's `KeyScope`).

Who the caller is comes from the bearer token (bpo_common.tokens), or from a page's cookie.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from bpo_common.errors import DomainError, FieldError, Forbidden, NotFound, Unauthorized
from bpo_common.tokens import (
    API_KEY_SUBJECT,
    MANAGE_KEYS,
    ApiKeyTrust,
    ClientPrincipal,
    KeyScope,
    Principal,
    Role,
    Scope,
    TokenVerifier,
    algorithm_of,
    ensure_key_pair,
    issue_token,
    signing_algorithm_of,
)

# What tokens are, re-exported: most callers need both halves.
__all__ = [
    "API_KEY_SUBJECT",
    "MANAGE_KEYS",
    "PAGE_COOKIES",
    "PAGE_HEADER",
    "Admin",
    "ApiKeyTrust",
    "BilledClientId",
    "CallerDependency",
    "ClientPrincipal",
    "ClientScope",
    "Contractor",
    "Credentials",
    "CurrentClient",
    "CurrentContractor",
    "CurrentPrincipal",
    "DeliveriesScope",
    "ErasureScope",
    "Finance",
    "InvoicesScope",
    "JobsWriter",
    "KeyScope",
    "Ops",
    "PersonalData",
    "Principal",
    "ResultsScope",
    "Role",
    "Scope",
    "TokenVerifier",
    "algorithm_of",
    "billed_client",
    "client_scope",
    "contractor_id_of",
    "current_client",
    "current_contractor",
    "current_principal",
    "ensure_key_pair",
    "issue_token",
    "key_scope_lacking",
    "remember_caller",
    "request_caller",
    "request_token",
    "require_role",
    "scope_refusal",
    "shows_personal_data",
    "signing_algorithm_of",
    "the_contractor_or_a_manager",
]

# A page of this platform (the workbench) calls the API with the token its sign-in keeps in
# an HttpOnly cookie, and names itself in this header. Another site can neither read the
# cookie, nor make a browser send it (SameSite=Strict), nor add the header without a CORS
# preflight, which no service answers.
PAGE_HEADER = "X-BPO-Page"
PAGE_COOKIES = {"workbench": "bpo_work"}


def request_token(request: HTTPConnection) -> str | None:
    """The token a request authenticates with: the bearer token of its Authorization header
    or, when that holds none (no header, or another scheme), the token its page's cookie
    holds; None without either. Routes, the rate limiter and the audit trail all find it
    here: found by two rules, one request could be served as one caller while it was metered
    as another, or as nobody. Authorization sent more than once is refused (400): which one
    was meant is not for a service to guess."""
    authorization = request.headers.getlist("authorization")
    if len(authorization) > 1:
        raise DomainError(
            "give the Authorization header once",
            errors=[FieldError("Authorization", f"sent {len(authorization)} times; send one")],
        )
    scheme, token = get_authorization_scheme_param(authorization[0] if authorization else None)
    if scheme.lower() == "bearer" and token:
        return token
    cookie = PAGE_COOKIES.get(request.headers.get(PAGE_HEADER, ""))
    return None if cookie is None else request.cookies.get(cookie)


class _Token(SecurityBase):
    """The request's token (request_token) as a route's dependency, which the OpenAPI
    documents show as the HTTP bearer scheme it mostly is."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="A JWT issued for this platform")
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> str | None:
        return request_token(request)


Credentials = Annotated[str | None, Depends(_Token())]


# Where a request keeps whom its token named, for the audit trail (bpo_common.audit).
_CALLER = "bpo_caller"


async def _authenticate(request: Request, token: str | None) -> Principal:
    if token is None:
        raise Unauthorized("send an Authorization: Bearer <token> header")
    verifier: TokenVerifier = request.app.state.runtime.verifier
    principal = await verifier.verify(token)
    remember_caller(request, principal)
    return principal


def remember_caller(request: Request, principal: Principal) -> None:
    """Keep whom the request's token names, before anything is decided on it."""
    request.scope.setdefault("state", {})[_CALLER] = principal


async def request_caller(request: Request) -> Principal | None:
    """Whom a request's token names: the caller its route authenticated or, for a request
    refused before the route looked (a body that is not valid), whoever its token
    (request_token) names; None without a valid token."""
    remembered: Principal | None = request.scope.get("state", {}).get(_CALLER)
    if remembered is not None:
        return remembered
    verifier: TokenVerifier = request.app.state.runtime.verifier
    try:
        token = request_token(request)
        return None if token is None else await verifier.verify(token)
    except DomainError:
        return None


async def current_principal(request: Request, credentials: Credentials) -> Principal:
    return await _authenticate(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


CallerDependency = Callable[[Request, Credentials], Awaitable[Principal]]


def scope_refusal(principal: Principal, scopes: Sequence[str]) -> str | None:
    """Why the caller may not do what needs one of `scopes`; None when it may (or none is
    needed)."""
    if not scopes or not principal.scopes.isdisjoint(scopes):
        return None
    held = ", ".join(sorted(principal.scopes)) or "none"
    return f"this needs the scope {' or '.join(scopes)}; the token has {held}"


def require_role(
    *roles: Role, manager: Sequence[Scope] = (), client: Sequence[str] = ()
) -> CallerDependency:
    """A dependency giving the caller when its role is one of `roles` and its token has one
    of the scopes its role needs here: a manager one of `manager` (every route managers may
    call names one), a client one of `client` (none named: any client token)."""
    if Role.MANAGER in roles and not manager:
        raise TypeError("a route managers may call names the scope they need")
    allowed = ", ".join(role.value for role in roles)
    needed: dict[Role, Sequence[str]] = {Role.MANAGER: manager, Role.CLIENT: client}

    # Verifies and checks in one dependency: every request of every route passes here.
    async def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = await _authenticate(request, credentials)
        if principal.role not in roles:
            raise Forbidden(f"this needs the role {allowed}; the token has {principal.role.value}")
        refusal = scope_refusal(principal, needed.get(principal.role, ()))
        if refusal is not None:
            raise Forbidden(refusal)
        return principal

    return dependency


# A manager working in one area: operations, finance, or administration.
Ops = Annotated[Principal, Depends(require_role(Role.MANAGER, manager=[Scope.OPS]))]
Finance = Annotated[Principal, Depends(require_role(Role.MANAGER, manager=[Scope.FINANCE]))]
Admin = Annotated[Principal, Depends(require_role(Role.MANAGER, manager=[Scope.ADMIN]))]
Contractor = Annotated[Principal, Depends(require_role(Role.CONTRACTOR))]
# A client or a manager changing a client's work (cancelling a job, resolving an exception).
JobsWriter = Annotated[
    Principal,
    Depends(
        require_role(Role.CLIENT, Role.MANAGER, manager=[Scope.OPS], client=[KeyScope.JOBS_WRITE])
    ),
]


def current_client(
    *scopes: KeyScope,
) -> Callable[[Request, Credentials], Awaitable[ClientPrincipal]]:
    """A dependency giving a client's caller whose token has one of `scopes`."""
    client_only = require_role(Role.CLIENT, client=scopes)

    async def dependency(request: Request, credentials: Credentials) -> ClientPrincipal:
        principal = await client_only(request, credentials)
        assert principal.client_id is not None, "a client token always names its client"
        return ClientPrincipal(principal.subject, principal.client_id)

    return dependency


# A client company's caller sending it work, with its client_id (an API key: jobs:write).
CurrentClient = Annotated[ClientPrincipal, Depends(current_client(KeyScope.JOBS_WRITE))]


def client_scope(
    *, manager: Sequence[Scope], client: Sequence[KeyScope]
) -> Callable[[Request, Credentials], Awaitable[UUID | None]]:
    """A dependency giving the client whose data the caller may see: a client its own, a
    manager every client's (None); for a manager with one of `manager`, a client with one of
    `client`. Another tenant's object is then not found, never forbidden."""
    caller = require_role(Role.CLIENT, Role.MANAGER, manager=manager, client=client)

    async def dependency(request: Request, credentials: Credentials) -> UUID | None:
        return (await caller(request, credentials)).scope()

    return dependency


# Reading a client's work: its jobs, their rules, its reference data.
ClientScope = Annotated[
    UUID | None,
    Depends(client_scope(manager=[Scope.OPS], client=[KeyScope.JOBS_WRITE, KeyScope.RESULTS_READ])),
]
# Reading what came of it: items, results, documents, decisions, exceptions.
ResultsScope = Annotated[
    UUID | None, Depends(client_scope(manager=[Scope.OPS], client=[KeyScope.RESULTS_READ]))
]
# Following up what an admin sets going as well as what ops runs: where a job's erasure
# stands, and what became of the webhooks sent to the URL an admin set (a manager reads the
# URLs masked).
ErasureScope = Annotated[
    UUID | None,
    Depends(
        client_scope(
            manager=[Scope.OPS, Scope.ADMIN],
            client=[KeyScope.JOBS_WRITE, KeyScope.RESULTS_READ],
        )
    ),
]
DeliveriesScope = Annotated[
    UUID | None,
    Depends(client_scope(manager=[Scope.OPS, Scope.ADMIN], client=[KeyScope.RESULTS_READ])),
]

# Erasing a client's data: the client itself (jobs:write) or an admin.
DataEraser = Annotated[
    Principal,
    Depends(
        require_role(Role.CLIENT, Role.MANAGER, manager=[Scope.ADMIN], client=[KeyScope.JOBS_WRITE])
    ),
]


def shows_personal_data(principal: Principal) -> bool:
    """Whether the caller reads personal (`pii`) values in clear: a client whose token may
    read results (routes give it its own work only; an API key that may only change work, as
    a resolution does, reads what it changed masked), a manager with the `pii` scope. Anyone
    else reads them masked (the holder of a task's lease is shown its task's values by the
    task routes)."""
    if principal.role is Role.CLIENT:
        return KeyScope.RESULTS_READ in principal.scopes
    return principal.role is Role.MANAGER and Scope.PII in principal.scopes


# What a manager must hold to give a client's API key each scope, one scope of each group:
# what the manager could do on that client's data. Reading results in clear needs both ops,
# which reads them, and pii, which shows their personal values; so does writing jobs, whose
# tokens act as the client: they read its reference datasets' rows, kept as given (personal
# values in clear), and replace or delete them.
_KEY_SCOPE_NEEDS: dict[KeyScope, tuple[tuple[Scope, ...], ...]] = {
    KeyScope.JOBS_WRITE: ((Scope.OPS,), (Scope.PII,)),
    KeyScope.RESULTS_READ: ((Scope.OPS,), (Scope.PII,)),
    KeyScope.INVOICES_READ: ((Scope.FINANCE,),),
    KeyScope.REPORTS_READ: ((Scope.OPS, Scope.FINANCE),),
}


def key_scope_lacking(maker: Principal, scope: KeyScope) -> list[tuple[str, ...]]:
    """What the maker of a client's API key lacks to give it `scope` (nothing: it may), one
    scope of each group: a key's tokens may do only what its maker could do on that client's
    data, or minting a key would undo the maker's own scopes. A client's token must hold the
    scope itself (its own sign-in, without a scope claim, holds them all); a manager the
    areas of work that do the same (_KEY_SCOPE_NEEDS)."""
    groups = ((scope,),) if maker.role is Role.CLIENT else _KEY_SCOPE_NEEDS[scope]
    return [group for group in groups if scope_refusal(maker, group) is not None]


async def personal_data_shown(request: Request, credentials: Credentials) -> bool:
    return shows_personal_data(await _authenticate(request, credentials))


# Whether the caller reads personal values in clear, or masked.
PersonalData = Annotated[bool, Depends(personal_data_shown)]
# Reading what a client is billed: usage, invoices, prices, a job's terms.
InvoicesScope = Annotated[
    UUID | None, Depends(client_scope(manager=[Scope.FINANCE], client=[KeyScope.INVOICES_READ]))
]


async def billed_client(client_id: UUID, scope: InvoicesScope) -> UUID:
    if scope is not None and scope != client_id:
        raise NotFound("no such object")
    return client_id


# The path's `client_id`, when the caller may read that client's billing: its own client, or
# a finance manager.
BilledClientId = Annotated[UUID, Depends(billed_client)]


def the_contractor_or_a_manager(
    refusal: str, manager: Scope
) -> Callable[[UUID, Principal], Awaitable[UUID]]:
    """A dependency giving the path's `contractor_id` to that contractor themself or to a
    manager with the scope `manager`. Another contractor gets a 404 saying `refusal` (with
    `{contractor_id}` filled in): whether that contractor exists is not theirs to know. Any
    other role, or a manager without the scope, is refused as on every route (403)."""
    contractor_or_manager = require_role(Role.CONTRACTOR, Role.MANAGER, manager=[manager])

    async def dependency(
        contractor_id: UUID, caller: Annotated[Principal, Depends(contractor_or_manager)]
    ) -> UUID:
        if caller.role is Role.MANAGER or contractor_id_of(caller) == contractor_id:
            return contractor_id
        raise NotFound(refusal.format(contractor_id=contractor_id))

    return dependency


def contractor_id_of(principal: Principal) -> UUID:
    """A contractor's id, which their token carries as its subject."""
    try:
        return UUID(principal.subject)
    except ValueError as exc:
        raise Forbidden("a contractor token's sub must be the contractor's id") from exc


async def current_contractor(token: Contractor) -> UUID:
    return contractor_id_of(token)


# The calling contractor's id; whether they may work is for the use case to say.
CurrentContractor = Annotated[UUID, Depends(current_contractor)]
