"""Events the reporting service consumes: every fact it reports on, from every service."""

from functools import partial

from bpo_common.contracts import billing, intake, validation
from bpo_common.contracts.erasure import ReportingErasureDone
from bpo_common.erasure import record_erased
from bpo_common.inbox import Subscription, batch, each
from bpo_reporting.service import projections

CONSUMER = "reporting"

# Each pair is type-checked: the recorder takes exactly the contract it is given. What
# every item and task brings goes set-based, a run at a time; a job's own events one by one.
handlers = dict(
    [
        each(intake.JobCreated, projections.record_job),
        each(intake.ItemsReceived, projections.record_items),
        each(intake.DocumentsAdded, projections.record_documents),
        batch(intake.TaskSubmitted, projections.record_tasks_submitted),
        batch(intake.TaskExpired, projections.record_tasks_expired),
        batch(intake.ItemCompleted, projections.record_items_completed),
        batch(intake.ItemRejected, projections.record_items_rejected),
        batch(validation.ExceptionOpened, projections.record_exceptions_opened),
        batch(validation.ExceptionResolved, projections.record_exceptions_resolved),
        each(intake.JobClosed, projections.record_job_closed),
        each(intake.JobCompleted, projections.record_job_completed),
        each(intake.JobCancelled, projections.record_job_cancelled),
        batch(validation.ContractorScored, projections.record_contractors_scored),
        each(validation.JobAccuracyDelivered, projections.record_job_accuracy),
        batch(billing.UsageRecorded, projections.record_usages),
        batch(billing.EarningRecorded, projections.record_earnings),
        # The read models hold counts and times, never values: nothing to erase but the answer.
        each(intake.DataErased, partial(record_erased, done=ReportingErasureDone)),
    ]
)

# A client's job, item and task facts and its rollups, and a contractor's rollups, are what
# two replicas' deliveries share.
subscriptions = [
    Subscription(name=CONSUMER, handlers=handlers, shared_by=("client_id", "contractor_id"))
]
