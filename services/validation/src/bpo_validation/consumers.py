"""Events the validation service consumes: jobs (created, completed, cancelled), their items
received, submitted tasks, erasures and reactivated contractors from intake."""

from functools import partial

from bpo_common.contracts.intake import (
    ContractorReactivated,
    DataErased,
    ItemsReceived,
    JobCancelled,
    JobCompleted,
    JobCreated,
    TaskSubmitted,
)
from bpo_common.inbox import Subscription, batch, each
from bpo_validation.service import accuracy, decisions, erasure, exceptions, jobs, quality
from bpo_validation.service.keys import JobKeys
from bpo_validation.settings import Settings


def subscriptions(settings: Settings, keys: JobKeys) -> list[Subscription]:
    """`keys`: where the jobs' data keys come from (asked of intake over NATS when new)."""
    record = partial(decisions.record_submissions, settings=settings, keys=keys)
    erase = partial(erasure.erase, keys=keys.keys)
    handlers = dict(
        [
            each(JobCreated, jobs.record_job),
            each(ItemsReceived, jobs.count_items),
            batch(TaskSubmitted, record),
            each(DataErased, erase),
            each(ContractorReactivated, quality.reactivate),
            each(JobCompleted, partial(accuracy.job_completed, settings=settings)),
            each(JobCancelled, quality.job_cancelled),
        ]
    )
    # A job's rules, items and ledger, a keyer's tallies and standing, and what a client's
    # invoices bill, are what two replicas' deliveries share.
    return [
        Subscription(
            name="validation",
            handlers=handlers,
            shared_by=("job_id", "contractor_id"),
            locks=exceptions.matching_locks,
        )
    ]
