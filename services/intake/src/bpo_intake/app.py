"""The intake service: clients push jobs and items, contractors pull tasks."""

from fastapi import FastAPI

from bpo_common.service import ServiceDefinition, Workers, create_service_app
from bpo_intake.consumers import subscriptions
from bpo_intake.routes import router
from bpo_intake.settings import Settings
from bpo_intake.tasks import sweep_leases
from bpo_intake.webhooks import deliver_webhooks


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="intake",
            title="BPO intake",
            description="Clients push jobs and items; contractors claim, key and submit tasks.",
            routers=[router],
            workers=Workers(subscriptions=subscriptions, loops=[sweep_leases, deliver_webhooks]),
        ),
        settings or Settings(),
    )
