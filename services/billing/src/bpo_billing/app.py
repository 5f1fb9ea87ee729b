"""The billing service: accepted work becomes invoices and contractor earnings."""

from fastapi import FastAPI

from bpo_billing.routes import routers
from bpo_billing.settings import Settings
from bpo_billing.workers import workers
from bpo_common import audit
from bpo_common.service import ServiceDefinition, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceDefinition(
            name="billing",
            title="BPO billing",
            description="Price books, usage, invoices, payments and contractor earnings.",
            routers=[*routers, audit.router()],
            workers=workers(settings),
        ),
        settings,
    )
