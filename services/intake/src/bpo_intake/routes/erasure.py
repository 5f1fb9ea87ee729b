"""Erasure of a job's or an item's data, and where it stands in each service."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common import audit
from bpo_common.auth import DataEraser, ErasureScope
from bpo_common.db import SessionDep
from bpo_common.text import CheckedRoute
from bpo_intake.domain.erasure import ErasureOut
from bpo_intake.routes.documents import BytesToSweep
from bpo_intake.service import erasure
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1", tags=["erasure"], route_class=CheckedRoute)


@router.delete("/jobs/{job_id}/data", status_code=202)
async def erase_job_data(
    job_id: UUID,
    session: SessionDep,
    caller: DataEraser,
    settings: SettingsDep,
    released: BytesToSweep,
) -> ErasureOut:
    """Erase a job's values and documents in every service, and its data key."""
    state = await erasure.erase_job(
        session, settings.data_keys(), job_id, caller.scope(), caller.subject, released
    )
    audit.summarize(session, erasure=state.erasure_id)
    return state


@router.delete("/items/{item_id}/data", status_code=202)
async def erase_item_data(
    item_id: UUID,
    session: SessionDep,
    caller: DataEraser,
    settings: SettingsDep,
    released: BytesToSweep,
) -> ErasureOut:
    """Erase an item's values and documents in every service."""
    state = await erasure.erase_item(
        session, settings.data_keys(), item_id, caller.scope(), caller.subject, released
    )
    audit.summarize(session, erasure=state.erasure_id, job=state.job_id)
    return state


@router.get("/jobs/{job_id}/erasure")
async def job_erasure(job_id: UUID, session: SessionDep, scope: ErasureScope) -> ErasureOut:
    """Where the job's erasure stands: when each service erased its share (null: not yet)."""
    return await erasure.erasure_state(session, job_id, scope)
