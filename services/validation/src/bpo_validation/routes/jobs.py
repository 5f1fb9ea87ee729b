"""Routes of job rules and the rule engine."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common.auth import ClientScope, CurrentPrincipal, ResultsScope
from bpo_common.db import SessionDep
from bpo_common.rules import CheckResponse
from bpo_common.text import CheckedRoute
from bpo_validation.schemas import CheckRequest, JobAccuracyOut, JobRulesOut
from bpo_validation.service import accuracy, jobs
from bpo_validation.settings import SettingsDep

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.post("/check", tags=["rules"])
async def check(body: CheckRequest, _: CurrentPrincipal) -> CheckResponse:
    """Dry-run the rule engine: check and normalize one record against field specs."""
    return jobs.dry_run(body)


@router.get("/jobs/{job_id}/rules", tags=["jobs"])
async def get_job_rules(job_id: UUID, session: SessionDep, scope: ClientScope) -> JobRulesOut:
    """The field rules and QC policy validation applies to a job's entries."""
    return await jobs.job_rules(session, job_id, scope)


@router.get("/jobs/{job_id}/accuracy", tags=["jobs"])
async def get_job_accuracy(
    job_id: UUID, session: SessionDep, scope: ResultsScope, settings: SettingsDep
) -> JobAccuracyOut:
    """The accuracy an adaptive job delivers: the share of its items expected right, with its
    95 % interval, from what is known of each keyer whose single keying was accepted (their
    control items and the items keyed twice judge them) and of the items keyed twice."""
    return await accuracy.job_accuracy(session, job_id, scope, settings)
