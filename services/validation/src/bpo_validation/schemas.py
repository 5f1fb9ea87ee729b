"""Request and response bodies of the validation API."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class JobRulesOut(BaseModel):
    job_id: UUID
    client_id: UUID
    work_type: str
    fields: list[dict[str, Any]]
    qc: dict[str, Any]
    received_at: datetime
