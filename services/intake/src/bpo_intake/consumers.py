"""Events the intake service consumes: validation's decisions and the match exceptions it
opens, a run at a time."""

from bpo_common.contracts import validation
from bpo_common.inbox import Subscription, batch, each
from bpo_intake.service import decisions

subscriptions = [
    Subscription(
        name="intake",
        handlers=dict(
            [
                batch(validation.ItemAccepted, decisions.decide_items),
                batch(validation.ItemRejected, decisions.decide_items),
                batch(validation.ReviewRequired, decisions.decide_items),
                batch(validation.SecondKeyingRequired, decisions.decide_items),
                batch(validation.ExceptionOpened, decisions.decide_items),
                each(validation.ContractorSuspended, decisions.suspend_contractor),
            ]
        ),
    ),
]
