"""Jobs as billing prices them, and the credits of those that finished late or below their
accuracy target."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import AccuracyCredit, BillableJob, SlaCredit
from bpo_billing.repository import jobs as repository
from bpo_billing.schemas import JobTermsOut
from bpo_common.clock import utcnow
from bpo_common.contracts.intake import JobCompleted, JobCreated
from bpo_common.contracts.validation import JobAccuracyDelivered
from bpo_common.errors import NotFound


async def record_job(session: AsyncSession, event: JobCreated) -> None:
    await repository.add_billable_job(
        session,
        BillableJob(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            due_at=event.due_at,
            sla_hours=event.sla_hours,
            external_ref=event.external_ref,
            created_at=event.created_at,
            received_at=utcnow(),
        ),
    )


async def job_terms(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobTermsOut:
    job = await repository.get_billable_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"billing knows no job {job_id}")
    return JobTermsOut.model_validate(job, from_attributes=True)


async def record_job_completed(session: AsyncSession, event: JobCompleted) -> None:
    """A job finished after its due time earns its client an SLA credit on the next invoice."""
    if event.due_at is None or event.completed_at <= event.due_at:
        return
    await repository.add_credit(
        session,
        SlaCredit(
            job_id=event.job_id,
            client_id=event.client_id,
            due_at=event.due_at,
            completed_at=event.completed_at,
            invoice_id=None,
            created_at=utcnow(),
        ),
    )


async def record_accuracy_delivered(session: AsyncSession, event: JobAccuracyDelivered) -> None:
    """A job that did not deliver its target accuracy with 95 % confidence earns its client an
    accuracy credit on the next invoice."""
    if event.met:
        return
    await repository.add_credit(
        session,
        AccuracyCredit(
            job_id=event.job_id,
            client_id=event.client_id,
            target_accuracy=event.target,
            estimate=event.estimate,
            assured=event.assured,
            decided_at=event.decided_at,
            invoice_id=None,
            created_at=utcnow(),
        ),
    )
