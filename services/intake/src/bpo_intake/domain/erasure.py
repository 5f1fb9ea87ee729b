"""Erasure as the API shows it: what was asked for a job and when each service erased its
share (null while it has not said so yet); which jobs retention passes over for a while."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field

# A job whose erasure by retention failed is tried again this much later, not at every pass:
# a batch's worth of such jobs would otherwise take every pass's batch, for every client.
RETRY_FAILED_AFTER = timedelta(days=1)


@dataclass
class RetentionFailures:
    """The jobs whose erasure by retention failed, and when (as one process saw them)."""

    failed_at: dict[UUID, datetime] = field(default_factory=dict)

    def passed_over(self, now: datetime) -> set[UUID]:
        """The jobs a pass at `now` leaves out: those that failed less than RETRY_FAILED_AFTER
        ago (the others are forgotten, and tried again)."""
        self.failed_at = {
            job_id: at for job_id, at in self.failed_at.items() if now - at < RETRY_FAILED_AFTER
        }
        return set(self.failed_at)

    def failed(self, job_id: UUID, now: datetime) -> None:
        self.failed_at[job_id] = now


class ServiceErasure(BaseModel):
    erased_at: datetime | None = None


class ErasureOut(BaseModel):
    """The job's erasure (its whole data if it was erased, else its latest erasure of items);
    `erasure_id` null: none was asked for."""

    job_id: UUID
    erasure_id: UUID | None = None
    item_ids: list[UUID] | None = Field(
        default=None, description="the items erased; null: the whole job (or nothing yet)"
    )
    requested_at: datetime | None = None
    intake: ServiceErasure = ServiceErasure()
    validation: ServiceErasure = ServiceErasure()
    billing: ServiceErasure = ServiceErasure()
    reporting: ServiceErasure = ServiceErasure()
    stream: ServiceErasure = Field(
        default=ServiceErasure(),
        description="when the events on the stream were emptied of the erased values, "
        "after the four services erased theirs",
    )


class RetentionUpdate(BaseModel):
    """A client's retention: days after a job ended that its data is erased (null: the
    service's default)."""

    model_config = {"extra": "forbid"}

    retention_days: int | None = Field(ge=1, le=36500)


class ClientRetention(BaseModel):
    client_id: UUID
    retention_days: int | None
    default_days: int = Field(description="the service's retention for a client without one")
