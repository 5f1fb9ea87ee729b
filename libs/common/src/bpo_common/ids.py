"""Identifiers: UUIDv7, time-ordered, so primary keys index well and sort by creation."""

from decimal import Decimal
from uuid import UUID

from uuid_utils.compat import uuid7


def new_id() -> UUID:
    return uuid7()


def sampled(id_: UUID, rate: Decimal) -> bool:
    """Whether the id is in a sample of this rate: deterministic, so the same id is always in,
    or out of, it."""
    # The low 62 bits of a UUIDv7 are random (the two above them are its variant), so they
    # spread evenly over [0, 1).
    return Decimal(id_.int & (2**62 - 1)) / Decimal(2**62) < rate
