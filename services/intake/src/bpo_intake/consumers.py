"""Events the intake service consumes: validation's decisions, each to its use case."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import validation
from bpo_common.events import Envelope
from bpo_common.inbox import Subscription
from bpo_intake.service import decisions

ITEM_DECISIONS: dict[str, type[decisions.ItemDecision]] = {
    decision.event_type: decision
    for decision in (
        validation.ItemAccepted,
        validation.ItemRejected,
        validation.ReviewRequired,
        validation.SecondKeyingRequired,
    )
}


async def on_item_decision(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.decide_item(session, envelope.payload(ITEM_DECISIONS[envelope.type]))


async def on_contractor_suspended(session: AsyncSession, envelope: Envelope) -> None:
    await decisions.suspend_contractor(session, envelope.payload(validation.ContractorSuspended))


subscriptions = [
    Subscription(
        name="intake",
        handlers={
            **dict.fromkeys(ITEM_DECISIONS, on_item_decision),
            validation.ContractorSuspended.event_type: on_contractor_suspended,
        },
    ),
]
