"""Tasks: contractors claim, keep alive, submit or give back their work."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from bpo_common.auth import Contractor as ContractorToken
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.text import CheckedRoute
from bpo_intake import tasks
from bpo_intake.schemas import ClaimRequest, ClaimResponse, Lease, SubmitRequest, Submitted
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], route_class=CheckedRoute)


async def current_contractor(token: ContractorToken) -> UUID:
    return tasks.contractor_id_of(token.subject)


# The contractor's id; whether they may work is checked in the statements themselves.
ContractorId = Annotated[UUID, Depends(current_contractor)]


@router.post("/claim")
async def claim(
    body: ClaimRequest,
    session: SessionDep,
    contractor: ContractorId,
    settings: SettingsDep,
) -> ClaimResponse:
    """Lease up to `limit` tasks, most urgent first; an empty list when there is no work."""
    claimed = await tasks.claim(session, contractor, body, lease_seconds=settings.lease_seconds)
    return ClaimResponse(tasks=claimed)


@router.post("/{task_id}/heartbeat", responses={409: PROBLEM_RESPONSE})
async def heartbeat(
    task_id: UUID, session: SessionDep, contractor: ContractorId, settings: SettingsDep
) -> Lease:
    """Extend the lease on a task you hold."""
    expires = await tasks.heartbeat(
        session, contractor, task_id, lease_seconds=settings.lease_seconds
    )
    return Lease(task_id=task_id, lease_expires_at=expires)


@router.post("/{task_id}/submit", status_code=202, responses={409: PROBLEM_RESPONSE})
async def submit(
    task_id: UUID, body: SubmitRequest, session: SessionDep, contractor: ContractorId
) -> Submitted:
    """Submit the keyed data (or a reviewer's rejection); rule breaks are named in a 422."""
    return await tasks.submit(session, contractor, task_id, body.data, reject=body.reject)


@router.post("/{task_id}/release", status_code=204, responses={409: PROBLEM_RESPONSE})
async def release(task_id: UUID, session: SessionDep, contractor: ContractorId) -> None:
    """Give a task you hold back to the queue."""
    await tasks.release(session, contractor, task_id)
