"""The billing service: accepted work becomes invoices and contractor earnings."""

from fastapi import FastAPI

from bpo_billing.consumers import subscriptions
from bpo_billing.routes import router
from bpo_billing.settings import Settings
from bpo_common.service import ServiceDefinition, Workers, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceDefinition(
            name="billing",
            title="BPO billing",
            description="Price books, usage, invoices, payments and contractor earnings.",
            routers=[router],
            workers=Workers(subscriptions=subscriptions(settings)),
        ),
        settings,
    )
