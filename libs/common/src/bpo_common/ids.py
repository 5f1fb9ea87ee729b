"""Identifiers: UUIDv7, time-ordered, so primary keys index well and sort by creation."""

import hashlib
from decimal import Decimal
from uuid import UUID

from uuid_utils.compat import uuid7


def new_id() -> UUID:
    return uuid7()


def sampled(id_: UUID, rate: Decimal) -> bool:
    """Whether the id is in a sample of this rate: deterministic, so the same id is always in,
    or out of, it. The id is hashed first: a UUIDv7's low bits count up within a millisecond,
    so ids made in one burst would otherwise be sampled all together, or not at all."""
    return share_of(id_) < rate


def share_of(id_: UUID) -> Decimal:
    """Where the id falls in [0, 1), evenly spread whatever the ids are."""
    digest = hashlib.blake2b(id_.bytes, digest_size=8).digest()
    return Decimal(int.from_bytes(digest, "big")) / Decimal(2**64)
