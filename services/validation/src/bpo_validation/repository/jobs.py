"""Queries of the job rules intake announced."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_validation.models import JobRules


async def add_job_rules(session: AsyncSession, rules: JobRules) -> None:
    """Keep a job's rules; a job already known (a copy of its event) is left as it is."""
    if await session.get(JobRules, rules.job_id) is None:
        session.add(rules)


async def get_job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRules | None:
    query = select(JobRules).where(JobRules.job_id == job_id)
    if scope is not None:
        query = query.where(JobRules.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()
