"""Response bodies of the reporting API."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel


class Overview(BaseModel):
    period_from: datetime
    period_to: datetime
    items_received: int
    items_completed: int
    backlog: int
    turnaround_p50_s: float | None
    turnaround_p90_s: float | None
    sla_met_ratio: float | None
    accuracy: float | None
    revenue: Decimal | None
    contractor_cost: Decimal | None
    margin: Decimal | None
    currency: str | None
