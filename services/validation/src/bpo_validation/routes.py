"""HTTP routes of the validation service."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common.auth import ClientOrManager
from bpo_common.db import SessionDep
from bpo_validation import service
from bpo_validation.schemas import JobRulesOut

router = APIRouter(prefix="/v1")


@router.get("/jobs/{job_id}/rules", tags=["jobs"])
async def get_job_rules(job_id: UUID, session: SessionDep, caller: ClientOrManager) -> JobRulesOut:
    """The field rules and QC policy validation applies to a job's entries."""
    rules = await service.job_rules(session, job_id, caller.scope())
    return JobRulesOut.model_validate(rules, from_attributes=True)
