"""The reports, for managers (and a client's own throughput, for that client): JSON by
default, CSV when Accept asks for text/csv."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import KeyScope, Principal, Role, Scope, require_role
from bpo_common.clock import Instant, utcnow
from bpo_common.db import SessionDep
from bpo_common.errors import NotFound
from bpo_common.media import CSV, attachment, csv_text, negotiate
from bpo_common.text import CheckedRoute
from bpo_reporting import schemas
from bpo_reporting.domain.buckets import Bucket
from bpo_reporting.service import reports as service
from bpo_reporting.settings import SettingsDep

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=CheckedRoute)

DEFAULT_PERIOD = timedelta(days=30)
JSON = "application/json"
REFUSAL = "reports come as application/json or text/csv; Accept allows none"
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV: {"schema": {"type": "string"}}}},
    406: {"description": "Accept allows neither JSON nor CSV"},
    422: {"description": "a filter is invalid; the problem names it"},
}


class Period(BaseModel):
    start: datetime
    end: datetime


async def period(
    start: Annotated[
        Instant | None, Query(alias="from", description="default: 30 days before to")
    ] = None,
    end: Annotated[Instant | None, Query(alias="to", description="default: now")] = None,
) -> Period:
    end = end or utcnow()
    return Period(start=start or end - DEFAULT_PERIOD, end=end)


PeriodDep = Annotated[Period, Depends(period)]
ClientFilter = Annotated[UUID | None, Query(description="only this client's work")]
CurrencyFilter = Annotated[
    str | None,
    Query(pattern="^[A-Z]{3}$", description="money in this currency (ISO 4217)"),
]
RowLimit = Annotated[int, Query(ge=1, le=500, description="at most this many rows")]
AcceptHeader = Annotated[str | None, Header()]
# Reports are read by managers of operations and of finance alike.
ManagerReader = Annotated[
    Principal, Depends(require_role(Role.MANAGER, manager=[Scope.OPS, Scope.FINANCE]))
]
# A report a client may read too, of its own work (an API key: reports:read).
ClientOrManagerReader = Annotated[
    Principal,
    Depends(
        require_role(
            Role.CLIENT,
            Role.MANAGER,
            manager=[Scope.OPS, Scope.FINANCE],
            client=[KeyScope.REPORTS_READ],
        )
    ),
]


@dataclass(frozen=True)
class ReportRequest:
    """A manager's request for a report: the session to read it in, and the Accept header
    that chooses between the report as JSON and its rows as CSV."""

    session: AsyncSession
    caller: Principal
    accept: str | None

    def answer(
        self, report: BaseModel, rows: Sequence[BaseModel], row_model: type[BaseModel], name: str
    ) -> Any:
        """The report as JSON, or its rows as CSV (one row per bucket, job, contractor ...): CSV
        when Accept prefers text/csv to JSON; JSON when it has no preference."""
        if negotiate(self.accept, [JSON, CSV], REFUSAL) == JSON:
            return report
        columns = list(row_model.model_fields)
        # Rows whose money is in the report's currency say which, as the report does.
        said = "currency" in type(report).model_fields and "currency" not in columns
        extra = {"currency": getattr(report, "currency")} if said else {}  # noqa: B009
        table = [
            [*columns, *extra],
            *([*(getattr(row, column) for column in columns), *extra.values()] for row in rows),
        ]
        return Response(
            csv_text(table), media_type=f"{CSV}; charset=utf-8", headers=attachment(f"{name}.csv")
        )


async def report_request(
    session: SessionDep, caller: ManagerReader, accept: AcceptHeader = None
) -> ReportRequest:
    return ReportRequest(session, caller, accept)


ReportRequestDep = Annotated[ReportRequest, Depends(report_request)]


@dataclass(frozen=True)
class OwnReportRequest(ReportRequest):
    """A request for a report a client may read of its own work, as a manager of anyone's."""

    def client(self, asked: UUID | None) -> UUID | None:
        """The client the report is about: the one asked for, which for a client is its own
        (another client's is not found, as if it did not exist)."""
        own = self.caller.scope()
        if own is not None and asked not in (None, own):
            raise NotFound(f"no client {asked}")
        return own or asked


async def own_report_request(
    session: SessionDep, caller: ClientOrManagerReader, accept: AcceptHeader = None
) -> OwnReportRequest:
    return OwnReportRequest(session, caller, accept)


OwnReportRequestDep = Annotated[OwnReportRequest, Depends(own_report_request)]


@router.get("/overview", response_model=schemas.Overview, responses=_CSV_RESPONSE)
async def overview(
    asked: ReportRequestDep,
    when: PeriodDep,
    client_id: ClientFilter = None,
    currency: CurrencyFilter = None,
) -> Any:
    """Headline figures for a period (default: the last 30 days), for all clients or one."""
    report = await service.overview(asked.session, when.start, when.end, client_id, currency)
    return asked.answer(report, [report], schemas.Overview, "overview")


@router.get(
    "/throughput",
    response_model=schemas.Throughput,
    responses=_CSV_RESPONSE | {404: {"description": "a client asked for another client's"}},
)
async def throughput(
    asked: OwnReportRequestDep,
    when: PeriodDep,
    bucket: Annotated[Bucket, Query(description="hour (up to 31 days) or day")] = Bucket.HOUR,
    client_id: ClientFilter = None,
    work_type: Annotated[str | None, Query(max_length=100)] = None,
) -> Any:
    """Items received and finished per hour or day, every bucket of the period listed (a
    client: of its own work)."""
    report = await service.throughput(
        asked.session, when.start, when.end, bucket, asked.client(client_id), work_type
    )
    return asked.answer(report, report.data, schemas.ThroughputBucket, "throughput")


@router.get("/sla", response_model=schemas.Sla, responses=_CSV_RESPONSE)
async def sla(
    asked: ReportRequestDep,
    settings: SettingsDep,
    client_id: ClientFilter = None,
    limit: RowLimit = 100,
) -> Any:
    """Open jobs by due time, with a completion forecast and whether they are at risk."""
    window = settings.forecast_window_hours
    report = await service.sla(asked.session, utcnow(), window, client_id, limit)
    return asked.answer(report, report.data, schemas.OpenJob, "sla")


@router.get("/accuracy", response_model=schemas.DeliveredAccuracy, responses=_CSV_RESPONSE)
async def accuracy(
    asked: ReportRequestDep,
    when: PeriodDep,
    client_id: ClientFilter = None,
    limit: RowLimit = 100,
) -> Any:
    """The accuracy adaptive jobs delivered in a period, latest first, with the misses flagged."""
    report = await service.accuracy(asked.session, when.start, when.end, client_id, limit)
    return asked.answer(report, report.data, schemas.DeliveredAccuracyRow, "accuracy")


@router.get("/contractors", response_model=schemas.Contractors, responses=_CSV_RESPONSE)
async def contractors(
    asked: ReportRequestDep, when: PeriodDep, currency: CurrencyFilter = None
) -> Any:
    """Per contractor: tasks, tasks per active hour, time to submit, accuracy, earnings."""
    report = await service.contractors(asked.session, when.start, when.end, currency)
    return asked.answer(report, report.data, schemas.ContractorRow, "contractors")


@router.get("/clients", response_model=schemas.Clients, responses=_CSV_RESPONSE)
async def clients(asked: ReportRequestDep, when: PeriodDep, currency: CurrencyFilter = None) -> Any:
    """Per client: volume, backlog, turnaround, SLA, accuracy, revenue and margin."""
    report = await service.clients(asked.session, when.start, when.end, currency)
    return asked.answer(report, report.data, schemas.ClientRow, "clients")
