"""Events the intake service publishes."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from bpo_common.events import Event


class JobCreated(Event):
    event_type = "bpo.intake.job.created"

    job_id: UUID
    client_id: UUID
    work_type: str
    fields: list[dict[str, Any]]
    qc: dict[str, Any]
    priority: int
    due_at: datetime | None
    sla_hours: Decimal | None
    external_ref: str | None
    created_at: datetime


class ReceivedItem(BaseModel):
    """One item inside ItemsReceived (a value, not an event on its own)."""

    model_config = ConfigDict(frozen=True)

    item_id: UUID
    external_id: str | None
    golden: bool


class ItemsReceived(Event):
    """A batch of items was added to a job (at most a few thousand per event)."""

    event_type = "bpo.intake.items.received"

    job_id: UUID
    client_id: UUID
    work_type: str
    items: list[ReceivedItem]
    received_at: datetime
