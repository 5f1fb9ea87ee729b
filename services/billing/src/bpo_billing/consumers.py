"""Events the billing service consumes: jobs and completed items from intake, scored tasks
and resolved match exceptions from validation."""

from functools import partial

from bpo_billing.service import earnings, jobs, usage
from bpo_billing.settings import Settings
from bpo_common.contracts.intake import ItemCompleted, JobCompleted, JobCreated
from bpo_common.contracts.validation import ContractorScored, ExceptionResolved
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
        ]
    )
    return [Subscription(name="billing", handlers=handlers)]
