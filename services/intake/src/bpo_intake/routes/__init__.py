"""HTTP routes of the intake service, one module per area."""

from fastapi import APIRouter

from bpo_intake.routes import clients, contractors, flagged, items, jobs, tasks, webhooks

router = APIRouter()
for area in (clients, contractors, jobs, tasks, webhooks, items, flagged):
    router.include_router(area.router)
