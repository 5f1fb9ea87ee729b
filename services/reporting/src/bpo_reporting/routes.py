"""HTTP routes of the reporting service."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from bpo_common.auth import Manager
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_reporting import service
from bpo_reporting.schemas import Overview

router = APIRouter(prefix="/v1/reports", tags=["reports"])

DEFAULT_PERIOD = timedelta(days=30)


@router.get("/overview")
async def overview(
    session: SessionDep,
    _: Manager,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    client_id: Annotated[UUID | None, Query(description="only this client's work")] = None,
) -> Overview:
    """Headline figures for a period (default: the last 30 days), for all clients or one."""
    end = end or utcnow()
    return await service.overview(session, start or end - DEFAULT_PERIOD, end, client_id)
