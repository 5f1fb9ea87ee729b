"""Events the intake service consumes: validation's decisions and the match exceptions it
opens, a run at a time; suspensions and the keyers adaptive QC doubts; the accuracy an
adaptive job delivered; every service's answer to an erasure."""

from functools import partial

from bpo_common.contracts import erasure, validation
from bpo_common.inbox import Subscription, batch, each
from bpo_intake.service import decisions
from bpo_intake.service.erasure import record_done
from bpo_intake.settings import Settings


def subscriptions(settings: Settings) -> list[Subscription]:
    decide = partial(decisions.decide_items, keys=settings.data_keys())
    handlers = dict(
        [
            batch(validation.ItemAccepted, decide),
            batch(validation.ItemRejected, decide),
            batch(validation.ReviewRequired, decide),
            batch(validation.SecondKeyingRequired, decide),
            batch(validation.ExceptionOpened, decide),
            each(validation.ContractorSuspended, decisions.suspend_contractor),
            each(validation.KeyerTrustChanged, decisions.route_keyer),
            each(validation.JobAccuracyDelivered, decisions.record_job_accuracy),
            each(erasure.ValidationErasureDone, record_done),
            each(erasure.BillingErasureDone, record_done),
            each(erasure.ReportingErasureDone, record_done),
        ]
    )
    # A job and its items, and a contractor, are what two replicas' deliveries share.
    return [Subscription(name="intake", handlers=handlers, shared_by=("job_id", "contractor_id"))]
