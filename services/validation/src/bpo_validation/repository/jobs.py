"""Queries of the job rules intake announced."""

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import among
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


async def rules_of_jobs(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, JobRules]:
    """The rules of those of the jobs that are known, by job."""
    query = select(JobRules).where(among(JobRules.job_id, list(job_ids)))
    return {rules.job_id: rules for rules in (await session.execute(query)).scalars()}


async def clients_matching(session: AsyncSession, job_ids: Iterable[UUID]) -> set[UUID]:
    """The clients of those of the jobs known that match invoices (have a match rule)."""
    query = select(JobRules.client_id, JobRules.match).where(among(JobRules.job_id, list(job_ids)))
    return {client_id for client_id, match in (await session.execute(query)).all() if match}


async def add_items(session: AsyncSession, job_id: UUID, count: int) -> bool:
    """Count `count` more items received for the job; False when the job is not known."""
    query = (
        update(JobRules)
        .where(JobRules.job_id == job_id)
        .values(items=JobRules.items + count)
        .returning(JobRules.job_id)
    )
    return (await session.execute(query)).first() is not None


async def cancelled_of(session: AsyncSession, job_ids: Iterable[UUID]) -> set[UUID]:
    """Those of the jobs that were cancelled."""
    query = select(JobRules.job_id).where(
        among(JobRules.job_id, list(job_ids)), JobRules.cancelled_at.is_not(None)
    )
    return set((await session.execute(query)).scalars())
