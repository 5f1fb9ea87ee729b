"""The reporting service: read models and reports built only from events."""

from fastapi import FastAPI

from bpo_common import audit
from bpo_common.pages import PageFiles
from bpo_common.service import ServiceDefinition, create_service_app
from bpo_reporting.routes import routers
from bpo_reporting.routes.dashboard import STATIC_DIR
from bpo_reporting.settings import Settings
from bpo_reporting.workers import workers


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        ServiceDefinition(
            name="reporting",
            title="BPO reporting",
            description="Throughput, backlog, SLA, accuracy and money for managers.",
            routers=[*routers, audit.router()],
            workers=workers(settings),
        ),
        settings,
    )
    # The dashboard's scripts and styles, the chart library among them: nothing from a CDN.
    app.mount("/dashboard/static", PageFiles(directory=STATIC_DIR), name="dashboard-static")
    return app
