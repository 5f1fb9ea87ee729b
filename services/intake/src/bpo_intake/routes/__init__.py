"""HTTP routes of the intake service, one module per aggregate."""

from fastapi import APIRouter

from bpo_common.text import CheckedRoute
from bpo_intake.routes import (
    api_keys,
    clients,
    contractors,
    documents,
    erasure,
    items,
    jobs,
    oauth,
    qualifications,
    tasks,
    webhooks,
    workbench,
)

router = APIRouter(route_class=CheckedRoute)
# Tasks first: claim and submit are the hottest routes, and routes are matched in order.
for aggregate in (
    tasks,
    clients,
    contractors,
    qualifications,
    jobs,
    webhooks,
    items,
    documents,
    erasure,
    api_keys,
    oauth,
    workbench,
):
    router.include_router(aggregate.router)
