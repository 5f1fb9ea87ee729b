"""Use cases of the billing service."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing import repository
from bpo_billing.models import BillableJob
from bpo_common.clock import utcnow
from bpo_common.contracts.intake import JobCreated
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
            created_at=event.created_at,
            received_at=utcnow(),
        ),
    )


async def job_terms(session: AsyncSession, job_id: UUID, scope: UUID | None) -> BillableJob:
    job = await repository.get_billable_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"billing knows no job {job_id}")
    return job
