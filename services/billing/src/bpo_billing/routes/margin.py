"""The margin report."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from bpo_billing.routes.parameters import PeriodEnd, PeriodStart, period
from bpo_billing.schemas import MarginReport
from bpo_billing.service import margin as service
from bpo_common.auth import Finance
from bpo_common.db import SessionDep
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.get("/margin", tags=["margin"])
async def get_margin(
    session: SessionDep,
    _: Finance,
    client_id: Annotated[UUID | None, Query()] = None,
    period_start: PeriodStart = None,
    period_end: PeriodEnd = None,
) -> MarginReport:
    """Revenue minus contractor cost per client and per job, for a period."""
    start, end = period(period_start, period_end)
    return await service.margin_report(session, client_id, start, end)
