"""Response bodies of the reporting API. Money is a decimal string with its currency."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from bpo_reporting.domain.buckets import Bucket


class Overview(BaseModel):
    period_from: datetime
    period_to: datetime
    items_received: int
    items_completed: int
    items_rejected: int
    backlog: int = Field(
        description="items of open jobs not yet completed, rejected or erased, now"
    )
    turnaround_p50_s: float | None
    turnaround_p90_s: float | None
    sla_met_ratio: float | None = Field(description="jobs completed by their due time / jobs due")
    accuracy: float | None = Field(description="fields judged correct / fields judged")
    revenue: Decimal | None
    contractor_cost: Decimal | None
    margin: Decimal | None
    currency: str | None


class ThroughputBucket(BaseModel):
    start: datetime
    items_received: int
    items_completed: int
    items_rejected: int
    jobs_sla_met: int
    jobs_sla_missed: int
    entries_accepted: int
    entries_overturned: int
    entries_rejected: int


class Throughput(BaseModel):
    period_from: datetime
    period_to: datetime
    bucket: Bucket
    client_id: UUID | None
    work_type: str | None
    data: list[ThroughputBucket]


class OpenJob(BaseModel):
    job_id: UUID
    client_id: UUID
    work_type: str | None
    due_at: datetime | None
    closed: bool
    items_total: int
    items_remaining: int = Field(
        description="items the keyers still have to do: not finished, nor waiting on the client"
    )
    items_waiting_on_client: int = Field(
        description="items not finished that wait for the client to resolve their match "
        "exception: none of the keyers' work, so the forecast does not count them. A job "
        "with nothing remaining but items waiting has no forecast (null), and is at risk only "
        "once its due time has passed"
    )
    documents: int = Field(description="documents attached to the job")
    pages: int = Field(description="their pages")
    forecast_completion_at: datetime | None = Field(
        description="when the job should be done: its remaining items at the recent "
        "throughput, after those of the jobs due before; with none remaining, when its last "
        "item was finished. Null when never, or when all that is left waits on the client"
    )
    at_risk: bool = Field(
        description="due, and forecast after its due time or never (when all that is left "
        "waits on the client: its due time has passed)"
    )


class Sla(BaseModel):
    generated_at: datetime
    window_hours: int
    throughput_per_hour: float = Field(description="items finished per hour, recently")
    jobs_open: int = Field(description="the open jobs, of which `data` lists up to `limit`")
    jobs_at_risk: int = Field(description="the open jobs at risk, listed or not")
    data: list[OpenJob]


class DeliveredAccuracyRow(BaseModel):
    """What an adaptive job delivered, as validation estimated it once the job completed: the
    share of the items adaptive QC ruled on expected right, with its two-sided 95 % interval.
    Figures are null when adaptive QC ruled on no item."""

    job_id: UUID
    client_id: UUID
    work_type: str
    target: Decimal
    estimate: float | None
    lower: float | None = Field(description="the 95 % interval's lower end")
    upper: float | None = Field(description="the 95 % interval's upper end")
    assured: float | None = Field(description="the one-sided 95 % lower bound")
    met: bool = Field(description="`assured` at or above the target; false: the job is flagged")
    items: int = Field(description="items adaptive QC ruled on")
    single_keyed: int
    keyed_twice: int
    decided_at: datetime


class DeliveredAccuracy(BaseModel):
    period_from: datetime
    period_to: datetime
    jobs: int = Field(description="adaptive jobs whose delivered accuracy came in the period")
    flagged: int = Field(description="of those, the jobs that did not meet their target")
    data: list[DeliveredAccuracyRow] = Field(description="latest first")


class ContractorRow(BaseModel):
    contractor_id: UUID
    tasks_submitted: int
    tasks_expired: int
    active_hours: int
    tasks_per_active_hour: float | None
    avg_seconds_to_submit: float | None
    active_seconds: float = Field(description="time on task as the workbench measured it")
    seconds_per_field: float | None = Field(description="of that time, per field keyed")
    items_per_hour: float | None = Field(description="tasks per hour of that time")
    entries_accepted: int
    entries_overturned: int
    entries_rejected: int
    fields_judged: int
    fields_correct: int
    accuracy: float | None
    earnings: Decimal | None


class Contractors(BaseModel):
    period_from: datetime
    period_to: datetime
    currency: str | None
    data: list[ContractorRow]


class ClientRow(BaseModel):
    client_id: UUID
    items_received: int
    items_completed: int
    items_rejected: int
    backlog: int
    turnaround_p50_s: float | None
    turnaround_p90_s: float | None
    sla_met_ratio: float | None
    accuracy: float | None
    revenue: Decimal | None
    contractor_cost: Decimal | None
    margin: Decimal | None


class Clients(BaseModel):
    period_from: datetime
    period_to: datetime
    currency: str | None
    data: list[ClientRow]


class Dashboard(BaseModel):
    """Everything the dashboard page shows, and its charts' series."""

    days: int
    # The currencies the page offers to switch to (none when the one shown is the only one).
    currencies: list[str]
    overview: Overview
    sla: Sla
    accuracy: DeliveredAccuracy
    contractors: Contractors
    clients: Clients
    charts: dict[str, dict[str, list[Any]]]
    # The throughput and SLA charts' buckets with anything in them, as a table, and how wide
    # each is.
    buckets: list[ThroughputBucket]
    bucket: Bucket
