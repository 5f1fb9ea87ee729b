"""Events the reporting service consumes."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.intake import ItemsReceived, JobCreated
from bpo_common.events import Envelope
from bpo_common.inbox import Subscription
from bpo_reporting import service


async def on_job_created(session: AsyncSession, envelope: Envelope) -> None:
    await service.record_job(session, envelope.payload(JobCreated))


async def on_items_received(session: AsyncSession, envelope: Envelope) -> None:
    await service.record_items(session, envelope.payload(ItemsReceived))


subscriptions = [
    Subscription(
        name="reporting",
        handlers={
            JobCreated.event_type: on_job_created,
            ItemsReceived.event_type: on_items_received,
        },
    ),
]
