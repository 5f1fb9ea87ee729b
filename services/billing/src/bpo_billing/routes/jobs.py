"""The terms billing prices a job under."""

from uuid import UUID

from fastapi import APIRouter

from bpo_billing.schemas import JobTermsOut
from bpo_billing.service import jobs as service
from bpo_common.auth import InvoicesScope
from bpo_common.db import SessionDep
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.get("/jobs/{job_id}/terms", tags=["jobs"])
async def get_job_terms(job_id: UUID, session: SessionDep, scope: InvoicesScope) -> JobTermsOut:
    """The terms billing will price a job under: its client, work type and deadline."""
    return await service.job_terms(session, job_id, scope)
