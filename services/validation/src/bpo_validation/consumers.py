"""Events the validation service consumes."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.intake import JobCreated
from bpo_common.events import Envelope
from bpo_common.inbox import Subscription
from bpo_validation import service


async def on_job_created(session: AsyncSession, envelope: Envelope) -> None:
    await service.record_job(session, envelope.payload(JobCreated))


subscriptions = [
    Subscription(name="validation", handlers={JobCreated.event_type: on_job_created}),
]
