"""Jobs as billing knows them, and the credits of those that finished late or below their
accuracy target."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import AccuracyCredit, BillableJob, SlaCredit
from bpo_common.db import among


async def add_billable_job(session: AsyncSession, job: BillableJob) -> None:
    """Keep a job's terms; a job already known (a copy of its event) is left as it is."""
    if await session.get(BillableJob, job.job_id) is None:
        session.add(job)


async def get_billable_job(
    session: AsyncSession, job_id: UUID, scope: UUID | None
) -> BillableJob | None:
    query = select(BillableJob).where(BillableJob.job_id == job_id)
    if scope is not None:
        query = query.where(BillableJob.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def jobs_by_id(session: AsyncSession, job_ids: set[UUID]) -> dict[UUID, BillableJob]:
    query = select(BillableJob).where(among(BillableJob.job_id, job_ids))
    return {job.job_id: job for job in (await session.execute(query)).scalars()}


async def add_credit(session: AsyncSession, credit: SlaCredit | AccuracyCredit) -> None:
    """Keep a job's credit; one the job already has (a copy of its event) is left as it is."""
    if await session.get(type(credit), credit.job_id) is None:
        session.add(credit)
        await session.flush()
