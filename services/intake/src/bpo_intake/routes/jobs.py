"""Jobs: clients create and follow them."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from bpo_common import audit
from bpo_common.auth import ClientScope, CurrentClient, JobsWriter
from bpo_common.db import SessionDep
from bpo_common.idempotency import IdempotencyDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.ratelimit import ItemCounter
from bpo_common.text import CheckedRoute
from bpo_intake.schemas import JobCreate, JobOut
from bpo_intake.service import jobs
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1", tags=["jobs"], route_class=CheckedRoute)


@router.post("/jobs", status_code=201, tags=["jobs"], response_model=JobOut)
async def create_job(
    body: JobCreate,
    session: SessionDep,
    client: CurrentClient,
    idempotency: IdempotencyDep,
    count_items: ItemCounter,
    settings: SettingsDep,
) -> JSONResponse:
    """Create a job, optionally with its first items."""
    count_items(len(body.items))
    audit.summarize(session, items=len(body.items))
    created = await jobs.create_job(session, client.client_id, body, settings.data_keys())
    return await idempotency.respond(201, created)


@router.get("/jobs", tags=["jobs"])
async def list_jobs(
    session: SessionDep,
    scope: ClientScope,
    page: PageDep,
    flagged: Annotated[
        bool | None,
        Query(
            description=(
                "true: only jobs flagged for not delivering their target accuracy with 95 % "
                "confidence (accuracy.met false); false: only the others"
            )
        ),
    ] = None,
) -> Page[JobOut]:
    """List jobs, oldest first: a client sees its own, a manager sees all."""
    return await jobs.list_jobs(session, scope, page, flagged)


@router.get("/jobs/{job_id}", tags=["jobs"])
async def get_job(job_id: UUID, session: SessionDep, scope: ClientScope) -> JobOut:
    """One job with its item counts and progress."""
    return await jobs.show_job(session, job_id, scope)


@router.post("/jobs/{job_id}/close", responses={409: PROBLEM_RESPONSE}, response_model=JobOut)
async def close_job(
    job_id: UUID, session: SessionDep, client: CurrentClient, idempotency: IdempotencyDep
) -> JSONResponse:
    """No more items will come; the job completes when every item is final."""
    return await idempotency.respond(200, await jobs.close_job(session, job_id, client.client_id))


@router.post("/jobs/{job_id}/cancel", responses={409: PROBLEM_RESPONSE}, response_model=JobOut)
async def cancel_job(
    job_id: UUID, session: SessionDep, caller: JobsWriter, idempotency: IdempotencyDep
) -> JSONResponse:
    """Cancel the work not yet done; its queued tasks are withdrawn."""
    cancelled = await jobs.cancel_job(session, job_id, caller.scope())
    return await idempotency.respond(200, cancelled)
