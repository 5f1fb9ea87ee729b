"""Events the intake service consumes: validation's decisions, each to its use case."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import validation
from bpo_common.events import Envelope
from bpo_common.inbox import Subscription
from bpo_intake.service import decisions


async def on_item_accepted(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.accept_item(session, envelope.payload(validation.ItemAccepted))


async def on_item_rejected(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.reject_item(session, envelope.payload(validation.ItemRejected))


async def on_review_required(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.require_review(session, envelope.payload(validation.ReviewRequired))


async def on_second_keying_required(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.require_second_keying(
        session, envelope.payload(validation.SecondKeyingRequired)
    )


async def on_contractor_suspended(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.suspend_contractor(session, envelope.payload(validation.ContractorSuspended))


subscriptions = [
    Subscription(
        name="intake",
        handlers={
            validation.ItemAccepted.event_type: on_item_accepted,
            validation.ItemRejected.event_type: on_item_rejected,
            validation.ReviewRequired.event_type: on_review_required,
            validation.SecondKeyingRequired.event_type: on_second_keying_required,
            validation.ContractorSuspended.event_type: on_contractor_suspended,
        },
    ),
]
