"""Events the intake service consumes: validation's decisions, each to its use case."""

from bpo_common.contracts import validation
from bpo_common.inbox import Subscription, each
from bpo_intake.service import decisions

subscriptions = [
    Subscription(
        name="intake",
        handlers=dict(
            [
                each(validation.ItemAccepted, decisions.decide_item),
                each(validation.ItemRejected, decisions.decide_item),
                each(validation.ReviewRequired, decisions.decide_item),
                each(validation.SecondKeyingRequired, decisions.decide_item),
                each(validation.ContractorSuspended, decisions.suspend_contractor),
            ]
        ),
    ),
]
