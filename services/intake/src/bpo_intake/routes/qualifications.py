"""Qualifications: managers say which work types require one, and with which set."""

from typing import Annotated

from fastapi import APIRouter, Path

from bpo_common.auth import Ops
from bpo_common.db import SessionDep
from bpo_common.rules import WORK_TYPE_PATTERN
from bpo_common.text import CheckedRoute
from bpo_intake.schemas import QualificationIn, QualificationOut
from bpo_intake.service import qualifications

router = APIRouter(prefix="/v1/work-types", tags=["qualifications"], route_class=CheckedRoute)

WorkType = Annotated[str, Path(pattern=WORK_TYPE_PATTERN)]


@router.put("/{work_type}/qualification")
async def put_qualification(
    work_type: WorkType, body: QualificationIn, session: SessionDep, _: Ops
) -> QualificationOut:
    """Require a qualification for the work type: the control items of `job_id` (a job of the
    work type) are its set. Its jobs not yet done, and those to come, require the skill named
    after the work type; a contractor without it who claims entry work while such work waits
    is given the set's items instead, gets the skill on keying at least `pass_mark` of them
    right, and may try again `retry_after_hours` after failing. Putting it again replaces it."""
    return await qualifications.put(session, work_type, body)


@router.get("/{work_type}/qualification")
async def get_qualification(work_type: WorkType, session: SessionDep, _: Ops) -> QualificationOut:
    """The work type's qualification; 404 when it requires none."""
    return await qualifications.get(session, work_type)
