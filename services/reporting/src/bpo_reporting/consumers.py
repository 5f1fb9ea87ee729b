"""Events the reporting service consumes: every fact it reports on, from every service."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import billing, intake, validation
from bpo_common.events import Envelope, Event
from bpo_common.inbox import Handler, Subscription
from bpo_reporting.service import projections

E = TypeVar("E", bound=Event)

CONSUMER = "reporting"


def _handler(
    contract: type[E], record: Callable[[AsyncSession, E], Awaitable[None]]
) -> tuple[str, Handler]:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        await record(session, envelope.payload(contract))

    return contract.event_type, handle


# Each pair is type-checked: the recorder takes exactly the contract it is given.
handlers: dict[str, Handler] = dict(
    [
        _handler(intake.JobCreated, projections.record_job),
        _handler(intake.ItemsReceived, projections.record_items),
        _handler(intake.TaskSubmitted, projections.record_task_submitted),
        _handler(intake.TaskExpired, projections.record_task_expired),
        _handler(intake.ItemCompleted, projections.record_item_completed),
        _handler(intake.ItemRejected, projections.record_item_rejected),
        _handler(intake.JobClosed, projections.record_job_closed),
        _handler(intake.JobCompleted, projections.record_job_completed),
        _handler(intake.JobCancelled, projections.record_job_cancelled),
        _handler(validation.ContractorScored, projections.record_contractor_scored),
        _handler(billing.UsageRecorded, projections.record_usage),
        _handler(billing.EarningRecorded, projections.record_earning),
    ]
)

subscriptions = [Subscription(name=CONSUMER, handlers=handlers)]
