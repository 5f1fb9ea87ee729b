"""Routes of decisions about items."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common.auth import ResultsScope
from bpo_common.db import SessionDep
from bpo_common.text import CheckedRoute
from bpo_validation.schemas import ItemDecision
from bpo_validation.service import decisions

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.get("/items/{item_id}/decision", tags=["decisions"])
async def get_decision(item_id: UUID, session: SessionDep, scope: ResultsScope) -> ItemDecision:
    """The entries of an item, how they compare field by field, and the decision with its reason."""
    return await decisions.item_decision(session, item_id, scope)
