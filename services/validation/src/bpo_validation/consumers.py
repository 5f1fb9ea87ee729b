"""Events the validation service consumes: jobs and submitted tasks from intake."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.events import Envelope
from bpo_common.inbox import Handler, Subscription
from bpo_validation.service import decisions, jobs
from bpo_validation.settings import Settings


def subscriptions(settings: Settings) -> list[Subscription]:
    async def on_job_created(session: AsyncSession, envelope: Envelope) -> None:
        await jobs.record_job(session, envelope.payload(JobCreated))

    async def on_task_submitted(session: AsyncSession, envelope: Envelope) -> None:
        await decisions.record_submission(session, envelope.payload(TaskSubmitted), settings)

    handlers: dict[str, Handler] = {
        JobCreated.event_type: on_job_created,
        TaskSubmitted.event_type: on_task_submitted,
    }
    return [Subscription(name="validation", handlers=handlers)]
