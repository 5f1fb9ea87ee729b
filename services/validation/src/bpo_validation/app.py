"""The validation service: checks every entry and decides what is accepted."""

from fastapi import FastAPI

from bpo_common.service import ServiceDefinition, Workers, create_service_app
from bpo_validation.consumers import subscriptions
from bpo_validation.routes import router
from bpo_validation.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceDefinition(
            name="validation",
            title="BPO validation",
            description="Quality control: field rules, double keying, review and accuracy.",
            routers=[router],
            workers=Workers(subscriptions=subscriptions(settings)),
        ),
        settings,
    )
