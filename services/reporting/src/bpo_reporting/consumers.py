"""Events the reporting service consumes: every fact it reports on, from every service."""

from bpo_common.contracts import billing, intake, validation
from bpo_common.inbox import Subscription, each
from bpo_reporting.service import projections

CONSUMER = "reporting"

# Each pair is type-checked: the recorder takes exactly the contract it is given.
handlers = dict(
    [
        each(intake.JobCreated, projections.record_job),
        each(intake.ItemsReceived, projections.record_items),
        each(intake.TaskSubmitted, projections.record_task_submitted),
        each(intake.TaskExpired, projections.record_task_expired),
        each(intake.ItemCompleted, projections.record_item_completed),
        each(intake.ItemRejected, projections.record_item_rejected),
        each(intake.JobClosed, projections.record_job_closed),
        each(intake.JobCompleted, projections.record_job_completed),
        each(intake.JobCancelled, projections.record_job_cancelled),
        each(validation.ContractorScored, projections.record_contractor_scored),
        each(billing.UsageRecorded, projections.record_usage),
        each(billing.EarningRecorded, projections.record_earning),
    ]
)

subscriptions = [Subscription(name=CONSUMER, handlers=handlers)]
