"""The intake service: clients push jobs and items, contractors pull tasks."""

import time
from random import Random

from fastapi import FastAPI

from bpo_common import audit
from bpo_common.pages import PageFiles
from bpo_common.ratelimit import Clock, RateLimiter
from bpo_common.service import ServiceDefinition, create_service_app
from bpo_intake.repository.jobs import DATA_KEYS
from bpo_intake.routes import router
from bpo_intake.routes.workbench import STATIC_DIR
from bpo_intake.service import documents
from bpo_intake.service.api_keys import SecretChecks
from bpo_intake.settings import Settings
from bpo_intake.workers import workers


def create_app(
    settings: Settings | None = None,
    *,
    draw: Random | None = None,
    clock: Clock = time.monotonic,
) -> FastAPI:
    """The app; `draw`: the random source claims draw control items with (a test passes one
    it steers); `clock`: the one the rate limits are kept on (a test moves it)."""
    settings = settings or Settings()
    app = create_service_app(
        ServiceDefinition(
            name="intake",
            title="BPO intake",
            description="Clients push jobs and items; contractors claim, key and submit tasks.",
            routers=[router, audit.router()],
            workers=workers(settings),
            checks=[DATA_KEYS.start_check()],
        ),
        settings,
        rate_limiter=RateLimiter.from_settings(settings, clock),
    )
    # The workbench's script and styles: nothing from a CDN.
    app.mount("/work/static", PageFiles(directory=STATIC_DIR), name="workbench-static")
    app.state.control_draw = draw or Random()
    app.state.secret_checks = SecretChecks.of(settings, clock)
    documents.document_decoder(settings)  # its process started before the first upload
    return app
