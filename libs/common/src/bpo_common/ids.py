"""Identifiers: UUIDv7, time-ordered, so primary keys index well and sort by creation."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from uuid_utils.compat import uuid7

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def new_id(at: datetime | None = None) -> UUID:
    """A new id of now, or of the time `at` (to the nearest millisecond), for an id that must
    read as made when another thing was. Unique either way: made at a time given, its other
    74 bits are all random."""
    if at is None:
        return uuid7()
    return uuid7(nanoseconds=(at - _EPOCH + _MS / 2) // _MS * 1_000_000)


def made_at(id_: UUID) -> datetime:
    """When `new_id` made the id, or the time it was given: a UUIDv7's first 48 bits are its
    Unix time in milliseconds."""
    return datetime.fromtimestamp((id_.int >> 80) / 1000, UTC)


def new_sample_key() -> bytes:
    """A secret to draw a sample with (`sampled`): 128 random bits, more than anyone guesses."""
    return secrets.token_bytes(16)


def sampled(id_: UUID, rate: Decimal, key: bytes = b"") -> bool:
    """Whether the id is in a sample of this rate: deterministic, so the same id is always in,
    or out of, it. The id is hashed first: a UUIDv7's low bits count up within a millisecond,
    so ids made in one burst would otherwise be sampled all together, or not at all. With a
    secret `key` (at most 64 bytes), whoever sees the id cannot tell whether it is in."""
    return share_of(id_, key) < rate


def share_of(id_: UUID, key: bytes = b"") -> Decimal:
    """Where the id falls in [0, 1), evenly spread whatever the ids are (keyed: BLAKE2b's MAC)."""
    digest = hashlib.blake2b(id_.bytes, digest_size=8, key=key).digest()
    return Decimal(int.from_bytes(digest, "big")) / Decimal(2**64)
