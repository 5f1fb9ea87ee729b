"""Client companies: managers register them."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_intake.domain.webhooks import new_secret
from bpo_intake.models import Client
from bpo_intake.repository import clients as repository
from bpo_intake.repository import erasure
from bpo_intake.schemas import ClientCreate
from bpo_intake.service.webhook_http import check_webhook_url


async def create_client(
    session: AsyncSession, command: ClientCreate, *, allow_private_webhooks: bool = False
) -> Client:
    """A new client with its webhook signing secret (its URL checked first, if it has one)."""
    url = str(command.webhook_url) if command.webhook_url is not None else None
    if url is not None:
        await check_webhook_url(url, allow_private_webhooks)
    client = Client(
        id=new_id(),
        name=command.name,
        webhook_url=url,
        webhook_secret=new_secret(),
        created_at=utcnow(),
    )
    await repository.add_client(session, client)
    return client


async def set_retention(
    session: AsyncSession, client_id: UUID, days: int | None, stream_max_age_days: int
) -> int | None:
    """Set the client's retention; longer than the stream keeps events is refused (the stream
    would outlive it)."""
    if days is not None and stream_max_age_days and days > stream_max_age_days:
        why = f"at most {stream_max_age_days}, the days the stream keeps events"
        raise Invalid(f"retention_days: {why}", errors=[FieldError("retention_days", why)])
    if not await erasure.set_retention(session, client_id, days):
        raise NotFound(f"no client {client_id}")
    return days
