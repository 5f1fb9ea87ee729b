"""Routes of contractors' quality figures."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from bpo_common.auth import Scope, the_contractor_or_a_manager
from bpo_common.db import SessionDep
from bpo_common.text import CheckedRoute
from bpo_validation.schemas import Quality
from bpo_validation.service import quality

router = APIRouter(prefix="/v1", route_class=CheckedRoute)

# A contractor sees their own figures, a manager anyone's; to another contractor they do not
# exist.
QualityOf = Annotated[
    UUID,
    Depends(
        the_contractor_or_a_manager("no quality figures for contractor {contractor_id}", Scope.OPS)
    ),
]


@router.get("/contractors/{contractor_id}/quality", tags=["quality"])
async def get_quality(contractor_id: QualityOf, session: SessionDep) -> Quality:
    """A contractor's accuracy overall, per field and work type, on control items, and by day."""
    return await quality.quality(session, contractor_id)
