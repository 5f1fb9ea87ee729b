"""Queries on webhooks: a client's URL, deliveries and their attempts."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.domain.webhooks import AfterAttempt, WebhookDeliveryStatus
from bpo_intake.models import Client, WebhookAttempt, WebhookDelivery
from bpo_intake.repository import of_client


async def client_webhook_url(session: AsyncSession, client_id: UUID) -> str | None:
    return await session.scalar(select(Client.webhook_url).where(Client.id == client_id))


async def set_client_webhook_url(session: AsyncSession, client_id: UUID, url: str | None) -> bool:
    """Returns whether the client exists."""
    updated = await session.execute(
        update(Client).where(Client.id == client_id).values(webhook_url=url).returning(Client.id)
    )
    return updated.first() is not None


async def add_webhook_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    session.add(delivery)
    await session.flush()


@dataclass(frozen=True)
class DueDelivery:
    id: UUID
    # The client's current URL and secret; None when the client has removed its URL.
    url: str | None
    secret: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


async def claim_webhook_deliveries(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[DueDelivery]:
    """Take due pending deliveries for one send: their next_attempt_at moves to the lease end."""
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due), WebhookDelivery.client_id == Client.id)
        .values(next_attempt_at=lease_until)
        .returning(
            WebhookDelivery.id,
            Client.webhook_url,
            Client.webhook_secret,
            WebhookDelivery.payload,
            WebhookDelivery.attempts,
            WebhookDelivery.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    return [DueDelivery(*row) for row in rows]


async def record_webhook_attempt(
    session: AsyncSession, attempt: WebhookAttempt, after: AfterAttempt, url: str | None
) -> None:
    """Store one try and what it means for its delivery; `url` is the one tried, if any."""
    session.add(attempt)
    changes: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "status": after.status,
        "next_attempt_at": after.next_attempt_at,
        "delivered_at": after.delivered_at,
        "last_error": after.last_error,
    }
    if url is not None:
        changes["url"] = url
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == attempt.delivery_id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )


async def list_webhook_deliveries(
    session: AsyncSession,
    scope: UUID | None,
    status: WebhookDeliveryStatus | None,
    page: PageRequest,
) -> list[WebhookDelivery]:
    query = of_client(select(WebhookDelivery), WebhookDelivery.client_id, scope)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = paginate(query, WebhookDelivery.id, page)
    return list((await session.execute(query)).scalars())


async def get_webhook_delivery(
    session: AsyncSession, delivery_id: UUID, scope: UUID | None
) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    query = of_client(query, WebhookDelivery.client_id, scope)
    return (await session.execute(query)).scalar_one_or_none()


async def webhook_attempts(session: AsyncSession, delivery_id: UUID) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list((await session.execute(query)).scalars())
