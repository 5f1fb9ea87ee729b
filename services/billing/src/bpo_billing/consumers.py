"""Events the billing service consumes: jobs and completed items from intake, scored tasks
from validation."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.service import earnings, jobs, usage
from bpo_billing.settings import Settings
from bpo_common.contracts.intake import ItemCompleted, JobCompleted, JobCreated
from bpo_common.contracts.validation import ContractorScored
from bpo_common.events import Envelope
from bpo_common.inbox import Handler, Subscription


def subscriptions(settings: Settings) -> list[Subscription]:
    async def on_job_created(session: AsyncSession, envelope: Envelope) -> None:
        await jobs.record_job(session, envelope.payload(JobCreated))

    async def on_item_completed(session: AsyncSession, envelope: Envelope) -> None:
        await usage.record_item_completed(session, envelope.payload(ItemCompleted))

    async def on_job_completed(session: AsyncSession, envelope: Envelope) -> None:
        await jobs.record_job_completed(session, envelope.payload(JobCompleted))

    async def on_contractor_scored(session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload(ContractorScored)
        await earnings.record_score(session, event, settings.overturned_fraction)

    handlers: dict[str, Handler] = {
        JobCreated.event_type: on_job_created,
        ItemCompleted.event_type: on_item_completed,
        JobCompleted.event_type: on_job_completed,
        ContractorScored.event_type: on_contractor_scored,
    }
    return [Subscription(name="billing", handlers=handlers)]
