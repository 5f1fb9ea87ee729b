"""Tokens: who a caller is (`Principal`), verifying the JWTs the services are given, and
issuing them (the CLI, tests, intake for API keys).

Tokens are verified with one pinned algorithm and must carry `exp`, `aud`, `iss`, `sub` and
`role`; a client's token also carries its `client_id`. The key is a PEM public key or a
JWKS URL from settings. Local stacks sign with a key pair generated on first use.

A token's `scope` claim (space-separated) narrows what it may do within its role: a
manager's areas (`Scope`), what a client's API key was given (`KeyScope`); names that are
none of these are ignored. Intake issues the
tokens of API keys with a key of its own, which the services trust for exactly those tokens:
a client's, with subject `api-key:<id>` and the key's scopes.
"""

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bpo_common.clock import utcnow
from bpo_common.errors import UNSTORABLE, Unauthorized, Unavailable
from bpo_common.settings import ServiceSettings

log = structlog.get_logger(__name__)

VERIFIED_CACHE_SIZE = 10_000
# How far the clocks of the hosts that issue and check tokens may be apart: a token issued
# (iat, nbf) that much ahead of this clock, or expired that little ago, is taken.
CLOCK_SKEW_S = 30
# The longest subject a token may name (the columns that record who acted hold 200).
MAX_SUBJECT = 200
# How long the keys fetched from BPO_JWT_JWKS_URL are trusted before they are fetched again:
# a key the identity provider removes (rotated out, or leaked) verifies nothing after that.
JWKS_LIFESPAN_S = 300.0
# How long a fetch of those keys may take: a provider that takes connections and never answers
# gets this long, not urllib's 30 s, before the tokens that wait for its keys are answered 503.
JWKS_TIMEOUT_S = 3.0
# How long a failed fetch is remembered: meanwhile a token that needs the keys fetched is
# answered 503 at once, rather than each in turn waiting for a fetch of its own to fail (its
# Retry-After). A token whose key is in the set still trusted is verified with it all the while.
JWKS_RETRY_S = 5


class Role(StrEnum):
    CLIENT = "client"
    CONTRACTOR = "contractor"
    MANAGER = "manager"


class Scope(StrEnum):
    """A manager's areas of work, granted in the `scope` claim of their token."""

    OPS = "ops"  # jobs, items, contractors, clients, reports
    FINANCE = "finance"  # price books, invoices, payments, piece rates, earnings, reports
    ADMIN = "admin"  # audit, API keys, webhook addresses, erasure
    # Personal data: the values of `pii` fields in clear, wherever the manager reads values;
    # without it they are masked.
    PII = "pii"


class KeyScope(StrEnum):
    """What the tokens of a client's API key may do: the scopes given to the key."""

    JOBS_WRITE = "jobs:write"  # create, fill, close and cancel jobs; resolve exceptions
    RESULTS_READ = "results:read"  # items, results, documents, decisions, exceptions
    INVOICES_READ = "invoices:read"  # usage, invoices, price books
    REPORTS_READ = "reports:read"  # the client's own throughput report


# Managing a client's API keys: a client's own token (one without a scope claim) may, a token
# of an API key never does, so that a key cannot make keys that outlive its revocation.
MANAGE_KEYS = "api-keys"
API_KEY_SUBJECT = "api-key:"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    client_id: UUID | None = None
    # What the token may do within its role: a manager's `Scope`s, a client's `KeyScope`s.
    scopes: frozenset[str] = frozenset()

    def scope(self) -> UUID | None:
        """The client whose data this caller may see; None means every client (managers)."""
        return None if self.role is Role.MANAGER else self.client_id


@dataclass(frozen=True)
class ClientPrincipal:
    """A client company's caller: its `client_id` is always known."""

    subject: str
    client_id: UUID


@dataclass(frozen=True)
class ApiKeyTrust:
    """Intake's key for the tokens it issues to clients' API keys, and their `iss`: trusted
    for those tokens alone, never for a manager's or a contractor's."""

    issuer: str
    public_key: str


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithm: str,
        public_key: str | None = None,
        jwks_url: str | None = None,
        api_keys: ApiKeyTrust | None = None,
        manager_unscoped: bool = False,
        jwks_lifespan_s: float = JWKS_LIFESPAN_S,
    ) -> None:
        if (public_key is None) == (jwks_url is None):
            raise ValueError(
                "set exactly one of BPO_JWT_PUBLIC_KEY_FILE and BPO_JWT_JWKS_URL to verify tokens"
            )
        if api_keys is not None and api_keys.issuer == issuer:
            raise ValueError("BPO_API_KEY_ISSUER must differ from BPO_JWT_ISSUER")
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self._public_key = public_key
        self._jwks = _KeySet(jwks_url, jwks_lifespan_s) if jwks_url else None
        self._jwks_lifespan_s = jwks_lifespan_s
        self._api_keys = api_keys
        self._api_key_algorithm = algorithm_of(api_keys.public_key) if api_keys else ""
        self._manager_unscoped = manager_unscoped
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "TokenVerifier":
        key_file = settings.jwt_public_key_file
        api_key_file = settings.api_key_public_key_file
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.jwt_algorithm,
            public_key=key_file.read_text() if key_file else None,
            jwks_url=settings.jwt_jwks_url,
            api_keys=ApiKeyTrust(settings.api_key_issuer, api_key_file.read_text())
            if api_key_file
            else None,
            manager_unscoped=settings.manager_unscoped,
        )

    async def verify(self, token: str) -> Principal:
        # A token verified once stays valid until it expires (one verified by a key of the
        # JWKS, no longer than that key is): skip the signature check for the contractor who
        # sends the same token a thousand times an hour.
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        # The issuer picks the key: intake's for its API keys' tokens, else the identity
        # provider's. Either way the signature is then checked with that key alone.
        api_keys = self._api_keys
        if api_keys is not None and _unverified_issuer(token) != api_keys.issuer:
            api_keys = None
        trusted_until = float("inf")
        try:
            key: Any = self._public_key
            algorithm, issuer = self._algorithm, self._issuer
            if api_keys is not None:
                key, algorithm = api_keys.public_key, self._api_key_algorithm
                issuer = api_keys.issuer
            elif self._jwks is not None:
                key = await self._jwks.key(token)
                trusted_until = time.time() + self._jwks_lifespan_s
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=issuer,
                options={"require": ["exp", "aud", "iss", "sub"]},
                leeway=CLOCK_SKEW_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(f"the token is not meant for audience {self._audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(f"the token was not issued by {self._issuer!r}") from exc
        except jwt.PyJWKClientConnectionError as exc:
            # The token may be good: its holder is to try again, not to replace it.
            log.warning("identity provider's keys unreachable", error=str(exc))
            raise Unavailable(
                "the identity provider's keys (BPO_JWT_JWKS_URL) cannot be fetched now; "
                "retry the request",
                retry_after_s=JWKS_RETRY_S,
            ) from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        expires = min(float(claims["exp"]), trusted_until)
        if api_keys is not None:
            return _api_key_principal(claims), expires
        return _principal(claims, self._manager_unscoped), expires


class _KeySet:
    """The identity provider's keys (BPO_JWT_JWKS_URL), looked up in the set as last fetched,
    never kept apart from it (as PyJWT's cache_keys would, for good): a key leaves with the set
    that drops it. The set is fetched on a thread of its own, so that a provider out of reach
    holds that thread alone, never those of the loop's default pool (an API key's scrypt, OCR,
    a PDF), and each lookup waits its turn there, not on a thread of the pool."""

    def __init__(self, url: str, lifespan_s: float) -> None:
        self._client = jwt.PyJWKClient(url, lifespan=lifespan_s, timeout=JWKS_TIMEOUT_S)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        self._failed_until = 0.0  # time.monotonic(); read and written on that thread alone
        self._failure = ""

    async def key(self, token: str) -> Any:
        """The key the token names (its `kid`), as PyJWT's lookup gives it or fails."""
        found = await asyncio.get_running_loop().run_in_executor(self._thread, self._key, token)
        return found.key

    def _key(self, token: str) -> jwt.PyJWK:
        # A key in the set still trusted needs no fetch, so a fetch that failed (for a kid the
        # set lacks, which anyone may send) says nothing about it: only the lookups that would
        # fetch are answered from the failure remembered.
        held = self._held(token)
        if held is not None:
            return held
        if time.monotonic() < self._failed_until:
            raise jwt.PyJWKClientConnectionError(f"fetched in vain just now: {self._failure}")
        try:
            return self._lookup(token)
        except jwt.PyJWKClientConnectionError as exc:
            self._failed_until = time.monotonic() + JWKS_RETRY_S
            self._failure = str(exc)
            raise

    def _held(self, token: str) -> jwt.PyJWK | None:
        """The token's key in the set as last fetched, while that set is trusted; None when
        there is no such set or it lacks the key (PyJWT's lookup then decides whether to fetch)."""
        cache = self._client.jwk_set_cache
        if cache is None or cache.get() is None:
            return None
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):  # no kid names a key held: left to PyJWT's lookup
            return None
        try:
            return self._client.match_kid(self._client.get_signing_keys(), kid)
        except jwt.PyJWKClientError:  # a set without signing keys: _lookup says why
            return None

    def _lookup(self, token: str) -> jwt.PyJWK:
        """The token's key; an answer of the URL that is no key set (a proxy's HTML page, a
        JSON without `keys`, a body cut short) fails as a URL out of reach does: the token may
        be good. A key set without the token's key is the token's fault."""
        try:
            self._client.get_signing_keys()  # as fetched last, or fetched now
        except jwt.PyJWKClientConnectionError:
            raise
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError, OSError) as exc:
            raise jwt.PyJWKClientConnectionError(f"the answer is no key set: {exc!r}") from exc
        try:
            return self._client.get_signing_key_from_jwt(token)
        except (ValueError, OSError) as exc:  # fetched again for a key it lacked
            raise jwt.PyJWKClientConnectionError(f"the answer is no key set: {exc!r}") from exc


def _unverified_issuer(token: str) -> str | None:
    """The `iss` a token claims, before anything about it is checked (None if unreadable)."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def _principal(claims: dict[str, Any], manager_unscoped: bool = False) -> Principal:
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
    scopes = _claimed_scopes(claims) & PLATFORM_SCOPES
    if not scopes:
        scopes = _UNSCOPED[role] if manager_unscoped or role is not Role.MANAGER else frozenset()
    subject = str(claims["sub"])  # PyJWT refuses one that is not a string
    if not 1 <= len(subject) <= MAX_SUBJECT or UNSTORABLE.search(subject):
        # Whoever acts is recorded by it (who created a key, asked for an erasure, resolved
        # an exception): it must fit where it is kept.
        raise Unauthorized(f"the token's sub must be a string of 1 to {MAX_SUBJECT} characters")
    return Principal(subject=subject, role=role, client_id=client_id, scopes=scopes)


def _claimed_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """The names a token's `scope` claim gives, as written (none without the claim)."""
    granted = claims.get("scope", "")
    if not isinstance(granted, str):
        raise Unauthorized("the token's scope must be a string of space-separated scopes")
    return frozenset(granted.split())


# The scope names this platform gives a meaning to. An identity provider writes its own into
# a sign-in's `scope` claim (OpenID Connect's `openid email profile`): those are left out, and
# a claim naming none of these is read as no claim, so that a client's own sign-in keeps what
# it may do.
PLATFORM_SCOPES: frozenset[str] = frozenset(Scope) | frozenset(KeyScope) | {MANAGE_KEYS}


# What a token without a scope claim may do: a client everything a client may (a client's own
# sign-in); a manager everything, where settings still allow that (BPO_MANAGER_UNSCOPED).
_UNSCOPED: dict[Role, frozenset[str]] = {
    Role.CLIENT: frozenset(KeyScope) | {MANAGE_KEYS},
    Role.MANAGER: frozenset(Scope),
    Role.CONTRACTOR: frozenset(),
}


def _api_key_principal(claims: dict[str, Any]) -> Principal:
    """The caller of a token intake issued for an API key: a client, with the key's scopes."""
    principal = _principal(claims)
    if (
        principal.role is not Role.CLIENT
        or not principal.subject.startswith(API_KEY_SUBJECT)
        or not isinstance(claims.get("scope"), str)
    ):
        raise Unauthorized("a token of an API key must be a client's, name its key and scopes")
    # The key's scopes as intake wrote them: a token of a key never stands for a sign-in.
    return Principal(
        principal.subject,
        Role.CLIENT,
        principal.client_id,
        _claimed_scopes(claims) & frozenset(KeyScope),
    )


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
    scopes: Iterable[str] | None = None,
    token_id: str | None = None,
) -> str:
    """A signed token; `scopes` become its `scope` claim (none: the claim is left out)."""
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
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    if token_id is not None:
        claims["jti"] = token_id
    return jwt.encode(claims, private_key_pem, algorithm=algorithm)


def algorithm_of(key_pem: str) -> str:
    """The one algorithm a PEM key (public or private) signs or verifies with: RS256 for RSA,
    ES256/ES384 for P-256/P-384, EdDSA for Ed25519. Pinned by the key, never by a token."""
    data = key_pem.encode()
    try:
        return _algorithm(serialization.load_pem_public_key(data))
    except ValueError:
        return _algorithm(_private_key(data))


def signing_algorithm_of(private_key_pem: str) -> str:
    """The algorithm a PEM private key signs with (as algorithm_of says); ValueError for a key
    that cannot sign: a public key (the half of a pair easily given for the other), or a
    private key encrypted with a passphrase, which nothing here asks for."""
    data = private_key_pem.encode()
    try:
        serialization.load_pem_public_key(data)
    except ValueError:
        return _algorithm(_private_key(data))
    raise ValueError("the key is a public key: tokens are signed with the private key of its pair")


def _private_key(data: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # how cryptography says that a password is needed
        raise ValueError(
            "the private key is encrypted: decrypt it (openssl pkey -in KEY -out KEY.plain)"
        ) from exc


def _algorithm(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "ES256", "secp384r1": "ES384"}
        if key.curve.name in curves:
            return curves[key.curve.name]
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise ValueError("the key must be RSA, EC P-256 or P-384, or Ed25519")


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """`private.pem` and `public.pem` in `directory`, made when neither is there; return both
    paths. A private key is never replaced (the tokens it signed must stay good): a public key
    missing beside it is derived from it again, and one run that makes a pair while another
    does keeps the pair that was written first. ValueError when only the public key is there,
    or the private key cannot be read."""
    private_path, public_path = directory / "private.pem", directory / "public.pem"
    if not private_path.exists():
        if public_path.exists():
            raise ValueError(
                f"{public_path} has no private key beside it: put {private_path.name} back, "
                f"or remove {public_path} to make a new pair (tokens signed before fail then)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_once(private_path, pem, 0o600)
    if not public_path.exists():
        _write_once(public_path, _public_pem(private_path), 0o644)
    return private_path, public_path


def _public_pem(private_path: Path) -> bytes:
    try:
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{private_path} is not an unencrypted PEM private key: {exc}") from exc
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_once(path: Path, data: bytes, mode: int) -> None:
    """`data` at `path` whole or not at all, unless a file is there already (kept). Where
    the file system has no hard links, the file is made exclusively and written in place."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        pass
    except OSError:
        exclusive = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        with (
            contextlib.suppress(FileExistsError),
            os.fdopen(os.open(path, exclusive, mode), "wb") as out,
        ):
            out.write(data)
    finally:
        temporary.unlink(missing_ok=True)
