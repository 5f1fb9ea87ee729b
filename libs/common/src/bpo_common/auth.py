"""JWT bearer auth as FastAPI dependencies.

Tokens are verified with one pinned algorithm and must carry `exp`, `aud`, `iss`, `sub` and
`role`; a client's token also carries its `client_id`. The key is a PEM public key or a
JWKS URL from settings. Local stacks sign with a key pair generated on first use.
"""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bpo_common.clock import utcnow
from bpo_common.errors import Forbidden, NotFound, Unauthorized
from bpo_common.settings import ServiceSettings

VERIFIED_CACHE_SIZE = 10_000


class Role(StrEnum):
    CLIENT = "client"
    CONTRACTOR = "contractor"
    MANAGER = "manager"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    client_id: UUID | None = None

    def scope(self) -> UUID | None:
        """The client whose data this caller may see; None means every client (managers)."""
        return None if self.role is Role.MANAGER else self.client_id


@dataclass(frozen=True)
class ClientPrincipal:
    """A client company's caller: its `client_id` is always known."""

    subject: str
    client_id: UUID


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithm: str,
        public_key: str | None = None,
        jwks_url: str | None = None,
    ) -> None:
        if (public_key is None) == (jwks_url is None):
            raise ValueError(
                "set exactly one of BPO_JWT_PUBLIC_KEY_FILE and BPO_JWT_JWKS_URL to verify tokens"
            )
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "TokenVerifier":
        key_file = settings.jwt_public_key_file
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.jwt_algorithm,
            public_key=key_file.read_text() if key_file else None,
            jwks_url=settings.jwt_jwks_url,
        )

    async def verify(self, token: str) -> Principal:
        # A token verified once stays valid until it expires: skip the signature check for
        # the contractor who sends the same token a thousand times an hour.
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key: Any = self._public_key
            if self._jwks is not None:
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(f"the token is not meant for audience {self._audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(f"the token was not issued by {self._issuer!r}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        return _principal(claims), float(claims["exp"])


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthorized("the token's role must be client, contractor or manager") from exc
    client_id = None
    if role is Role.CLIENT:
        try:
            client_id = UUID(str(claims["client_id"]))
        except (KeyError, ValueError) as exc:
            raise Unauthorized("a client token must carry a client_id UUID") from exc
    return Principal(subject=str(claims["sub"]), role=role, client_id=client_id)


def issue_token(
    private_key_pem: str,
    *,
    subject: str,
    role: Role,
    issuer: str,
    audience: str,
    client_id: UUID | None = None,
    ttl: timedelta = timedelta(hours=12),
    algorithm: str = "RS256",
) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
    }
    if client_id is not None:
        claims["client_id"] = str(client_id)
    return jwt.encode(claims, private_key_pem, algorithm=algorithm)


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """Create `private.pem` and `public.pem` in `directory` unless they exist; return both paths."""
    private_path, public_path = directory / "private.pem", directory / "public.pem"
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


_bearer = HTTPBearer(auto_error=False, description="A JWT issued for this platform")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


# A page of this platform (the workbench) calls the API with the token its sign-in keeps in
# an HttpOnly cookie, and names itself in this header. Another site can neither read the
# cookie, nor make a browser send it (SameSite=Strict), nor add the header without a CORS
# preflight, which no service answers.
PAGE_HEADER = "X-BPO-Page"
PAGE_COOKIES = {"workbench": "bpo_work"}


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is not None:
        token: str | None = credentials.credentials
    else:
        token = _page_token(request)
    if token is None:
        raise Unauthorized("send an Authorization: Bearer <token> header")
    verifier: TokenVerifier = request.app.state.runtime.verifier
    return await verifier.verify(token)


def _page_token(request: Request) -> str | None:
    cookie = PAGE_COOKIES.get(request.headers.get(PAGE_HEADER, ""))
    return None if cookie is None else request.cookies.get(cookie)


async def current_principal(request: Request, credentials: Credentials) -> Principal:
    return await _authenticate(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: Role) -> Callable[[Request, Credentials], Awaitable[Principal]]:
    allowed = ", ".join(role.value for role in roles)

    # Verifies and checks in one dependency: every request of every route passes here.
    async def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = await _authenticate(request, credentials)
        if principal.role not in roles:
            raise Forbidden(f"this needs the role {allowed}; the token has {principal.role.value}")
        return principal

    return dependency


Manager = Annotated[Principal, Depends(require_role(Role.MANAGER))]
Contractor = Annotated[Principal, Depends(require_role(Role.CONTRACTOR))]
ClientOrManager = Annotated[Principal, Depends(require_role(Role.CLIENT, Role.MANAGER))]
ContractorOrManager = Annotated[Principal, Depends(require_role(Role.CONTRACTOR, Role.MANAGER))]

_client_only = require_role(Role.CLIENT)


async def current_client(request: Request, credentials: Credentials) -> ClientPrincipal:
    principal = await _client_only(request, credentials)
    assert principal.client_id is not None, "a client token always names its client"
    return ClientPrincipal(principal.subject, principal.client_id)


# A client company's caller, with its client_id.
CurrentClient = Annotated[ClientPrincipal, Depends(current_client)]


# Dependencies that do no I/O are coroutines all the same: FastAPI runs a plain function in a
# worker thread, a hop that costs more than the function.
async def client_scope(caller: ClientOrManager) -> UUID | None:
    return caller.scope()


# The client whose data a client or manager may see: a client its own, a manager every
# client's (None). Another tenant's object is then not found, never forbidden.
ClientScope = Annotated[UUID | None, Depends(client_scope)]


async def own_client(client_id: UUID, scope: ClientScope) -> UUID:
    if scope is not None and scope != client_id:
        raise NotFound("no such object")
    return client_id


# The path's `client_id`, when it is the caller's own client or the caller is a manager.
OwnClientId = Annotated[UUID, Depends(own_client)]


def the_contractor_or_a_manager(refusal: str) -> Callable[[UUID, Principal], Awaitable[UUID]]:
    """A dependency giving the path's `contractor_id` to a manager or to that contractor
    themself; anyone else gets a 404 saying `refusal` (with `{contractor_id}` filled in)."""

    async def dependency(contractor_id: UUID, caller: CurrentPrincipal) -> UUID:
        itself = caller.role is Role.CONTRACTOR and caller.subject == str(contractor_id)
        if caller.role is Role.MANAGER or itself:
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
