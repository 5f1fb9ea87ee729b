"""Routes of decisions about items."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from bpo_common.auth import PersonalData, ResultsScope
from bpo_common.db import SessionDep
from bpo_common.service import Runtime
from bpo_common.text import CheckedRoute
from bpo_validation.schemas import ItemDecision
from bpo_validation.service import decisions
from bpo_validation.service.keys import JobKeys, asking_intake
from bpo_validation.settings import Settings

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


async def job_keys(request: Request) -> JobKeys:
    runtime: Runtime = request.app.state.runtime
    return JobKeys(runtime.settings_as(Settings).data_keys(), asking_intake(runtime.nats))


# Jobs' data keys, to open personal values for a reader who may see them.
JobKeysDep = Annotated[JobKeys, Depends(job_keys)]


@router.get("/items/{item_id}/decision", tags=["decisions"])
async def get_decision(
    item_id: UUID,
    session: SessionDep,
    scope: ResultsScope,
    personal: PersonalData,
    keys: JobKeysDep,
) -> ItemDecision:
    """The entries of an item, how they compare field by field, and the decision with its reason."""
    return await decisions.item_decision(session, item_id, scope, keys, personal=personal)
