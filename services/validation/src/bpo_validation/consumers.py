"""Events the validation service consumes: jobs, submitted tasks and reactivated contractors
from intake."""

from functools import partial

from bpo_common.contracts.intake import (
    ContractorReactivated,
    DataErased,
    JobCreated,
    TaskSubmitted,
)
from bpo_common.inbox import Subscription, batch, each
from bpo_validation.service import decisions, erasure, jobs, quality
from bpo_validation.service.keys import JobKeys
from bpo_validation.settings import Settings


def subscriptions(settings: Settings, keys: JobKeys) -> list[Subscription]:
    """`keys`: where the jobs' data keys come from (asked of intake over NATS when new)."""
    record = partial(decisions.record_submissions, settings=settings, keys=keys)
    erase = partial(erasure.erase, keys=keys.keys)
    handlers = dict(
        [
            each(JobCreated, jobs.record_job),
            batch(TaskSubmitted, record),
            each(DataErased, erase),
            each(ContractorReactivated, quality.reactivate),
        ]
    )
    return [Subscription(name="validation", handlers=handlers)]
