"""Request and response bodies of the billing API."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel


class JobTermsOut(BaseModel):
    job_id: UUID
    client_id: UUID
    work_type: str
    due_at: datetime | None
    sla_hours: Decimal | None
    created_at: datetime
    received_at: datetime
