"""Tasks: contractors claim, keep alive, submit or give back their work."""

from random import Random
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from bpo_common.auth import PAGE_HEADER, CurrentContractor
from bpo_common.db import SessionDep
from bpo_common.idempotency import REPLAYED_HEADER, RequestKeyDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.rules import CheckResponse
from bpo_common.text import CheckedRoute
from bpo_intake.routes.workbench import PAGE
from bpo_intake.schemas import (
    ClaimRequest,
    ClaimResponse,
    DraftIn,
    Lease,
    SubmitRequest,
    Submitted,
)
from bpo_intake.service import pages, tasks
from bpo_intake.service.tasks import LeaseHolder
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], route_class=CheckedRoute)


async def current_lease_holder(
    task_id: UUID, session: SessionDep, contractor: CurrentContractor
) -> LeaseHolder:
    return await tasks.lease_holder(session, contractor, task_id)


# The caller and the path's task, which they hold an unexpired lease on: the one read these
# routes make before their change (404, 403 or 409 otherwise).
CurrentLeaseHolder = Annotated[LeaseHolder, Depends(current_lease_holder)]


async def control_draw(request: Request) -> Random:
    draw: Random = request.app.state.control_draw
    return draw


# The random source claims draw control items with (`qc.golden_rate`): the app's.
ControlDraw = Annotated[Random, Depends(control_draw)]


# A claim sent again with its key while the first is still being made.
CLAIM_BEING_MADE: dict[str, Any] = {
    "description": "A claim with this Idempotency-Key is still being made: send it again after "
    "`Retry-After` seconds",
    **PROBLEM_RESPONSE,
}


@router.post("/claim", responses={503: CLAIM_BEING_MADE})
async def claim(
    request: Request,
    body: ClaimRequest,
    session: SessionDep,
    contractor: CurrentContractor,
    settings: SettingsDep,
    draw: ControlDraw,
    key: RequestKeyDep,
    response: Response,
) -> ClaimResponse:
    """Lease up to `limit` tasks, most urgent first; an empty list when there is no work. With
    an `Idempotency-Key`, the same claim again (its answer lost) gives the tasks it leased that
    you still hold, and leases nothing more; a 503 while that claim is still being made."""
    claimed = await tasks.claim(
        session,
        contractor,
        body,
        lease_seconds=settings.lease_seconds,
        links=pages.page_links(settings),
        keys=settings.data_keys(),
        draw=draw,
        # The workbench's script would read a long whole number as a double, and round it.
        integers_as_text=request.headers.get(PAGE_HEADER) == PAGE,
        key=key,
    )
    if claimed.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return ClaimResponse(tasks=claimed.tasks)


@router.post("/{task_id}/heartbeat", responses={409: PROBLEM_RESPONSE})
async def heartbeat(
    holder: CurrentLeaseHolder, session: SessionDep, settings: SettingsDep
) -> Lease:
    """Extend the lease on a task you hold."""
    expires = await tasks.heartbeat(session, holder, lease_seconds=settings.lease_seconds)
    return Lease(task_id=holder.task.id, lease_expires_at=expires)


@router.post("/{task_id}/check", responses={409: PROBLEM_RESPONSE})
async def check_draft(holder: CurrentLeaseHolder, body: DraftIn) -> CheckResponse:
    """Check the fields keyed so far, as submit would, without submitting (for a form)."""
    return CheckResponse.of(tasks.check_draft(holder, body.data))


@router.post("/{task_id}/submit", status_code=202, responses={409: PROBLEM_RESPONSE})
async def submit(
    holder: CurrentLeaseHolder, body: SubmitRequest, session: SessionDep, settings: SettingsDep
) -> Submitted:
    """Submit the keyed data (or a rejection, or unreadable); rule breaks are named in a 422."""
    return await tasks.submit(
        session,
        holder,
        body.data,
        reject=body.reject,
        unreadable=body.unreadable,
        active_seconds=body.active_seconds,
        keys=settings.data_keys(),
    )


@router.post("/{task_id}/release", status_code=204, responses={409: PROBLEM_RESPONSE})
async def release(holder: CurrentLeaseHolder, session: SessionDep) -> None:
    """Give a task you hold back to the queue (a control copy is withdrawn: your next claim
    may give another, or a qualification's set item again)."""
    await tasks.release(session, holder)
