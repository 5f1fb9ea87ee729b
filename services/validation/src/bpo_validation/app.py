"""The validation service: checks every entry and decides what is accepted."""

from fastapi import FastAPI

from bpo_common import audit
from bpo_common.service import ServiceDefinition, create_service_app
from bpo_validation.repository.keys import KEPT_KEYS
from bpo_validation.routes import routers
from bpo_validation.settings import Settings
from bpo_validation.workers import workers


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceDefinition(
            name="validation",
            title="BPO validation",
            description="Quality control: field rules, double keying, review and accuracy.",
            routers=[*routers, audit.router()],
            workers=workers(settings),
            checks=[KEPT_KEYS.start_check()],
        ),
        settings,
    )
