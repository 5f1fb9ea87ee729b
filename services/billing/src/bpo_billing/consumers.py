"""Events the billing service consumes: jobs and completed items from intake; scored tasks,
resolved match exceptions and the accuracy jobs delivered from validation."""

from functools import partial

from bpo_billing.service import earnings, jobs, usage
from bpo_billing.settings import Settings
from bpo_common.contracts.erasure import BillingErasureDone
from bpo_common.contracts.intake import DataErased, ItemCompleted, JobCompleted, JobCreated
from bpo_common.contracts.validation import (
    ContractorScored,
    ExceptionResolved,
    JobAccuracyDelivered,
)
from bpo_common.erasure import record_erased
from bpo_common.inbox import Subscription, batch, each


def subscriptions(settings: Settings) -> list[Subscription]:
    handlers = dict(
        [
            each(JobCreated, jobs.record_job),
            batch(ItemCompleted, usage.record_items_completed),
            each(JobCompleted, jobs.record_job_completed),
            batch(
                ContractorScored,
                partial(earnings.record_scores, overturned_fraction=settings.overturned_fraction),
            ),
            each(ExceptionResolved, usage.record_exception_resolved),
            each(JobAccuracyDelivered, jobs.record_accuracy_delivered),
            # Usage lines, invoices and earnings keep counts and prices, never keyed values:
            # billing has nothing to erase but says so.
            each(DataErased, partial(record_erased, done=BillingErasureDone)),
        ]
    )
    # A client's monthly volume counters and jobs are what two replicas' deliveries share.
    return [Subscription(name="billing", handlers=handlers, shared_by=("client_id",))]
