"""HTTP routes of the intake service, one module per area."""

from fastapi import APIRouter

from bpo_intake.routes import clients, contractors, items, jobs, tasks, webhooks

router = APIRouter()
for area in (clients, contractors, jobs, tasks, webhooks, items):
    router.include_router(area.router)
