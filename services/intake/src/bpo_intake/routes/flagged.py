"""Flagged items: work that kept failing and waits for a manager."""

from uuid import UUID

from fastapi import APIRouter

from bpo_common.auth import Manager
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_intake import tasks
from bpo_intake.schemas import ItemOut

router = APIRouter(prefix="/v1/items", tags=["items"], route_class=CheckedRoute)


@router.get("/flagged")
async def flagged_items(session: SessionDep, _: Manager, page: PageDep) -> Page[ItemOut]:
    """Items flagged for a manager, with the reason (for example leases that kept expiring)."""
    return await tasks.flagged_items(session, page)


@router.post("/{item_id}/requeue", responses={409: PROBLEM_RESPONSE})
async def requeue(item_id: UUID, session: SessionDep, _: Manager) -> ItemOut:
    """Clear an item's flag and give it a fresh entry task."""
    return await tasks.requeue_item(session, item_id)
