"""HTTP routes of the validation service."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common.auth import ClientOrManager, CurrentPrincipal
from bpo_common.db import SessionDep
from bpo_validation import service
from bpo_validation.schemas import CheckRequest, CheckResponse, ItemDecision, JobRulesOut, Quality

router = APIRouter(prefix="/v1")


@router.post("/check", tags=["rules"])
async def check(body: CheckRequest, _: CurrentPrincipal) -> CheckResponse:
    """Dry-run the rule engine: check and normalize one record against field specs."""
    return service.dry_run(body)


@router.get("/jobs/{job_id}/rules", tags=["jobs"])
async def get_job_rules(job_id: UUID, session: SessionDep, caller: ClientOrManager) -> JobRulesOut:
    """The field rules and QC policy validation applies to a job's entries."""
    rules = await service.job_rules(session, job_id, caller.scope())
    return JobRulesOut.model_validate(rules, from_attributes=True)


@router.get("/items/{item_id}/decision", tags=["decisions"])
async def get_decision(item_id: UUID, session: SessionDep, caller: ClientOrManager) -> ItemDecision:
    """The entries of an item, how they compare field by field, and the decision with its reason."""
    return await service.item_decision(session, item_id, caller.scope())


@router.get("/contractors/{contractor_id}/quality", tags=["quality"])
async def get_quality(
    contractor_id: UUID, session: SessionDep, caller: CurrentPrincipal
) -> Quality:
    """A contractor's accuracy overall, per field and work type, on control items, and by day."""
    return await service.quality(session, contractor_id, caller)
