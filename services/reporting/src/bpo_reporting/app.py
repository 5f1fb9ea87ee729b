"""The reporting service: read models and reports built only from events."""

from fastapi import FastAPI

from bpo_common.service import ServiceDefinition, create_service_app
from bpo_reporting.consumers import subscriptions
from bpo_reporting.routes import router
from bpo_reporting.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="reporting",
            title="BPO reporting",
            description="Throughput, backlog, SLA, accuracy and money for managers.",
            routers=[router],
            subscriptions=subscriptions,
        ),
        settings or Settings(),
    )
