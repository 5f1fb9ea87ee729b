"""The usage ledger: one line per completed item, and one per billed match exception."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from bpo_billing.routes.parameters import in_order
from bpo_billing.schemas import UsageLineOut
from bpo_billing.service import usage as service
from bpo_common.auth import InvoicesScope
from bpo_common.clock import Day
from bpo_common.db import SessionDep
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.get("/usage", tags=["usage"])
async def list_usage(
    session: SessionDep,
    scope: InvoicesScope,
    page: PageDep,
    client_id: Annotated[UUID | None, Query()] = None,
    period_start: Annotated[Day | None, Query(description="completed on or after (UTC)")] = None,
    period_end: Annotated[Day | None, Query(description="completed on or before (UTC)")] = None,
) -> Page[UsageLineOut]:
    """Usage lines (one per completed item, and one per billed match exception), oldest
    first: a client sees its own."""
    in_order(period_start, period_end)
    return await service.list_usage(session, scope, client_id, period_start, period_end, page)
