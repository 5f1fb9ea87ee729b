"""Queries on webhooks: a client's URL, deliveries and their attempts."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
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
    client_id: UUID
    # The client's current URL and secret; None when the client has removed its URL.
    url: str | None
    secret: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


# Due deliveries a claim looks among for its clients' oldest.
_CLAIM_SCAN = 500


async def claim_webhook_deliveries(
    session: AsyncSession,
    now: datetime,
    lease_until: datetime,
    *,
    limit: int,
    per_client: int,
    busy: Sequence[UUID],
) -> list[DueDelivery]:
    """Take due pending deliveries for one send, oldest first: at most `per_client` of one
    client's, none of the `busy` clients'. Their next_attempt_at moves to the lease end."""
    due = (
        select(WebhookDelivery.id, WebhookDelivery.client_id, WebhookDelivery.next_attempt_at)
        .where(
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.client_id.not_in(busy),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(_CLAIM_SCAN)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    ranked = select(
        due.c.id,
        due.c.next_attempt_at,
        func.row_number()
        .over(partition_by=due.c.client_id, order_by=due.c.next_attempt_at)
        .label("rank"),
    ).subquery()
    taken = (
        select(ranked.c.id)
        .where(ranked.c.rank <= per_client)
        .order_by(ranked.c.next_attempt_at)
        .limit(limit)
    )
    rows = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(taken), WebhookDelivery.client_id == Client.id)
        .values(next_attempt_at=lease_until)
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.client_id,
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
