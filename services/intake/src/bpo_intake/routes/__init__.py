"""HTTP routes of the intake service, one module per area."""

from fastapi import APIRouter

from bpo_intake.routes import clients, jobs

router = APIRouter()
for area in (clients, jobs):
    router.include_router(area.router)
