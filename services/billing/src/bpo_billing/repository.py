"""Every query of the billing service."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import BillableJob


async def add_billable_job(session: AsyncSession, job: BillableJob) -> None:
    session.add(job)


async def get_billable_job(
    session: AsyncSession, job_id: UUID, scope: UUID | None
) -> BillableJob | None:
    query = select(BillableJob).where(BillableJob.job_id == job_id)
    if scope is not None:
        query = query.where(BillableJob.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()
