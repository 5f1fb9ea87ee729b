"""Contractors: who may take work."""

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
