"""Events the reporting service consumes: every fact it reports on, from every service."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import billing, intake, validation
from bpo_common.events import Envelope, Event
from bpo_common.inbox import Handler, Subscription
from bpo_reporting import service

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
        _handler(intake.JobCreated, service.record_job),
        _handler(intake.ItemsReceived, service.record_items),
        _handler(intake.TaskSubmitted, service.record_task_submitted),
        _handler(intake.TaskExpired, service.record_task_expired),
        _handler(intake.ItemCompleted, service.record_item_completed),
        _handler(intake.ItemRejected, service.record_item_rejected),
        _handler(intake.JobClosed, service.record_job_closed),
        _handler(intake.JobCompleted, service.record_job_completed),
        _handler(intake.JobCancelled, service.record_job_cancelled),
        _handler(validation.ContractorScored, service.record_contractor_scored),
        _handler(billing.UsageRecorded, service.record_usage),
        _handler(billing.EarningRecorded, service.record_earning),
    ]
)

subscriptions = [Subscription(name=CONSUMER, handlers=handlers)]
