"""HTTP routes of the billing service."""

from uuid import UUID

from fastapi import APIRouter

from bpo_billing import service
from bpo_billing.schemas import JobTermsOut
from bpo_common.auth import ClientOrManager
from bpo_common.db import SessionDep

router = APIRouter(prefix="/v1")


@router.get("/jobs/{job_id}/terms", tags=["jobs"])
async def get_job_terms(job_id: UUID, session: SessionDep, caller: ClientOrManager) -> JobTermsOut:
    """The terms billing will price a job under: its client, work type and deadline."""
    job = await service.job_terms(session, job_id, caller.scope())
    return JobTermsOut.model_validate(job, from_attributes=True)
