"""Contractors: who may take work."""

from datetime import datetime
from enum import StrEnum

from bpo_common.errors import Forbidden


class ContractorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def refuse_unless_active(status: ContractorStatus | None, reason: str | None) -> None:
    """Say why a contractor gets no work: unknown (no status) or suspended."""
    if status is None:
        raise Forbidden("this token's contractor is not registered; ask a manager")
    if status is ContractorStatus.SUSPENDED:
        raise Forbidden(f"this contractor is suspended: {reason}")


def suspension_stands(suspended_at: datetime, reactivated_at: datetime | None) -> bool:
    """Whether validation's suspension still holds: not once a manager gave the contractor work
    again after it, as validation judges it too (the reactivation cleared it there, however
    late intake reads it)."""
    return reactivated_at is None or suspended_at > reactivated_at
