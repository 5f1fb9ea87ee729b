"""API keys: what a client system authenticates with at the token endpoint (OAuth 2.0 client
credentials, RFC 6749 §4.4), how its secret is kept, and what a key may be granted.

The secret is shown once, when the key is made; only its scrypt hash is kept, with a salt of
its own, and a presented secret is compared in constant time. The bodies of the API key
routes live here too, beside the rules they carry (as an item's body does in items.py).
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bpo_common.auth import KeyScope, Principal, key_scope_lacking
from bpo_common.clock import Instant
from bpo_common.errors import FieldError, Forbidden, Invalid

SECRET_PREFIX = "bpok_"  # noqa: S105 (the format's prefix, not a secret)
# scrypt's costs (2**14 blocks of 8 x 128 bytes: 16 MiB and some 50 ms a check), the salt's
# and the hash's sizes.
LOG_N, BLOCK_SIZE, PARALLEL = 14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024
KNOWN_SCOPES = ", ".join(KeyScope)
_SCOPE_NAMES = frozenset(scope.value for scope in KeyScope)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """The secret's scrypt hash with a new random salt, as a PHC string:
    `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (unpadded base64)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(secret, salt, LOG_N, BLOCK_SIZE, PARALLEL, HASH_BYTES)
    return f"$scrypt$ln={LOG_N},r={BLOCK_SIZE},p={PARALLEL}${_b64(salt)}${_b64(digest)}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether `secret` is the one `stored` (a `hash_secret` string) was made from, compared
    in constant time; the costs are read from the string, so older hashes still check."""
    try:
        _, name, costs, salt, digest = stored.split("$")
        values = dict(part.split("=") for part in costs.split(","))
        expected = _unb64(digest)
        log_n, block_size, parallel = int(values["ln"]), int(values["r"]), int(values["p"])
        if name != "scrypt":
            return False
        actual = _scrypt(secret, _unb64(salt), log_n, block_size, parallel, len(expected))
    except (ValueError, KeyError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


@cache
def decoy_hash() -> str:
    """A hash to check a secret against when the key is unknown, so that the answer takes as
    long as for a known key and does not tell which key ids exist."""
    return hash_secret(secrets.token_urlsafe(32))


def _scrypt(
    secret: str, salt: bytes, log_n: int, block_size: int, parallel: int, size: int
) -> bytes:
    return hashlib.scrypt(
        secret.encode(),
        salt=salt,
        n=2**log_n,
        r=block_size,
        p=parallel,
        maxmem=MAX_SCRYPT_MEMORY,
        dklen=size,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise Invalid(
            "an API key must expire in the future",
            errors=[FieldError("expires_at", f"must be after now ({now.isoformat()})")],
        )


def check_scopes(maker: Principal, scopes: list[KeyScope]) -> None:
    """Refuses a key a scope its maker could not use on the client's data itself, naming
    each such member of `scopes` and what the maker's token lacks for it."""
    refused = [
        FieldError(f"scopes[{index}]", f"{scope} needs the scope {_all_of(lacking)}")
        for index, scope in enumerate(scopes)
        if (lacking := key_scope_lacking(maker, scope))
    ]
    if refused:
        held = ", ".join(sorted(maker.scopes)) or "none"
        said = "; ".join(f"{error.field}: {error.message}" for error in refused)
        raise Forbidden(
            f"an API key may do only what its maker may: {said}; the token has {held}",
            errors=refused,
        )


def _all_of(groups: list[tuple[str, ...]]) -> str:
    return " and ".join(" or ".join(group) for group in groups)


# The token endpoint


class OAuthError(StrEnum):
    """RFC 6749 §5.2's error codes, as the token endpoint uses them."""

    INVALID_REQUEST = "invalid_request"
    INVALID_CLIENT = "invalid_client"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"


class TokenRefused(Exception):
    """Why the token endpoint gives no token: an error code and a description for people."""

    def __init__(self, error: OAuthError, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


UNKNOWN_CLIENT = "no API key with that client_id and client_secret"


def usable(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> None:
    """Refuses a key that was revoked or has expired (its holder, who knows the secret, may
    be told which)."""
    if revoked_at is not None:
        raise TokenRefused(OAuthError.INVALID_CLIENT, "the API key was revoked")
    if expires_at is not None and expires_at <= now:
        raise TokenRefused(OAuthError.INVALID_CLIENT, "the API key has expired")


def granted(key_scopes: list[str], requested: str | None) -> list[str]:
    """The scopes a token gets: those asked for (RFC 6749 §3.3, space-separated), each one the
    key was given; all the key's when none are asked for."""
    asked = (requested or "").split()
    if not asked:
        return list(key_scopes)
    beyond = [scope for scope in asked if scope not in key_scopes]
    if beyond:
        raise TokenRefused(
            OAuthError.INVALID_SCOPE,
            f"the API key was not given {', '.join(beyond)}; it has {' '.join(key_scopes)}",
        )
    return [scope for scope in key_scopes if scope in asked]


@dataclass(frozen=True)
class Grant:
    """A token issued for an API key."""

    access_token: str
    expires_in: int
    scopes: list[str]


# Bodies of the API key routes


def _known_scope(value: Any) -> Any:
    if isinstance(value, str) and value not in _SCOPE_NAMES:
        raise ValueError(f"unknown scope {value!r}; scopes are {KNOWN_SCOPES}")
    return value


Scopes = Annotated[
    list[Annotated[KeyScope, BeforeValidator(_known_scope)]],
    Field(min_length=1, max_length=len(KeyScope), description="what the key's tokens may do"),
]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: UUID | None = Field(
        None, description="the client the key acts for: required of a manager; a client's own"
    )
    name: Annotated[str, Field(min_length=1, max_length=200)]
    scopes: Scopes
    expires_at: Instant | None = Field(None, description="none: until revoked")


class ApiKeyOut(BaseModel):
    id: UUID
    client_id: UUID
    name: str
    scopes: list[KeyScope]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="when it last got a token")


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(
        description="the client_secret of the token endpoint; shown this once, kept only hashed"
    )
