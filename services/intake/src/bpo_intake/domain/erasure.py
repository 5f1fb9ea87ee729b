"""Erasure as the API shows it: what was asked for a job and when each service erased its
share (null while it has not said so yet)."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


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
