"""Webhooks: managers set a client's URL; clients follow every delivery and attempt."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from bpo_common import audit
from bpo_common.auth import Admin, DeliveriesScope
from bpo_common.db import SessionDep
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_intake.domain.webhooks import WebhookDeliveryStatus
from bpo_intake.schemas import (
    ClientWebhook,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookUrlUpdate,
)
from bpo_intake.service import webhooks
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.put("/clients/{client_id}/webhook", tags=["clients", "webhooks"])
async def set_webhook(
    client_id: UUID,
    body: WebhookUrlUpdate,
    session: SessionDep,
    _: Admin,
    settings: SettingsDep,
) -> ClientWebhook:
    """Change or clear the URL a client's webhooks are sent to."""
    # Whether a URL is set, never the URL: one may carry a token of the client's.
    audit.summarize(session, webhook=body.webhook_url is not None)
    return await webhooks.set_webhook_url(
        session, client_id, body.webhook_url, allow_private=settings.webhook_allow_private
    )


@router.get("/webhooks/deliveries", tags=["webhooks"])
async def list_deliveries(
    session: SessionDep,
    scope: DeliveriesScope,
    page: PageDep,
    status: Annotated[WebhookDeliveryStatus | None, Query(description="only these")] = None,
) -> Page[WebhookDeliveryOut]:
    """List webhook deliveries, oldest first: a client sees its own, a manager sees all."""
    return await webhooks.list_deliveries(session, scope, status, page)


@router.get("/webhooks/deliveries/{delivery_id}", tags=["webhooks"])
async def get_delivery(
    delivery_id: UUID, session: SessionDep, scope: DeliveriesScope
) -> WebhookDeliveryDetail:
    """One webhook delivery with every attempt to send it."""
    return await webhooks.get_delivery(session, delivery_id, scope)
