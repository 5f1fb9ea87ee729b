"""Every query of the validation service."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_validation.models import JobRules


async def save_job_rules(session: AsyncSession, rules: JobRules) -> None:
    values = {column.key: getattr(rules, column.key) for column in JobRules.__table__.columns}
    await session.execute(insert(JobRules).values(values).on_conflict_do_nothing())


async def get_job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRules | None:
    query = select(JobRules).where(JobRules.job_id == job_id)
    if scope is not None:
        query = query.where(JobRules.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()
