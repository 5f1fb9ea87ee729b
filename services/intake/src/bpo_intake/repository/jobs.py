"""Queries on jobs."""

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.domain.jobs import FINAL, ItemStatus
from bpo_intake.models import Item, Job
from bpo_intake.repository import of_client


async def add_job(session: AsyncSession, job: Job) -> None:
    session.add(job)
    await session.flush()
    # Read back what was stored (times in UTC, NUMERIC at its scale) so the answer matches a GET.
    await session.refresh(job)


async def get_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    query = of_client(select(Job).where(Job.id == job_id), Job.client_id, scope)
    return (await session.execute(query)).scalar_one_or_none()


async def get_job_for_update(session: AsyncSession, job_id: UUID) -> Job | None:
    query = select(Job).where(Job.id == job_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def jobs_for_update(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, Job]:
    """The jobs, locked in id order (so that two transactions never deadlock on them)."""
    query = select(Job).where(Job.id.in_(sorted(job_ids))).order_by(Job.id).with_for_update()
    return {job.id: job for job in (await session.execute(query)).scalars()}


async def list_jobs(session: AsyncSession, scope: UUID | None, page: PageRequest) -> list[Job]:
    query = paginate(of_client(select(Job), Job.client_id, scope), Job.id, page)
    return list((await session.execute(query)).scalars())


async def item_counts(
    session: AsyncSession, job_ids: Sequence[UUID]
) -> dict[UUID, dict[ItemStatus, int]]:
    rows = await session.execute(
        select(Item.job_id, Item.status, func.count())
        .where(Item.job_id.in_(job_ids))
        .group_by(Item.job_id, Item.status)
    )
    counts: dict[UUID, dict[ItemStatus, int]] = {job_id: {} for job_id in job_ids}
    for job_id, status, count in rows:
        counts[job_id][status] = count
    return counts


async def has_unfinished_items(session: AsyncSession, job_id: UUID) -> bool:
    """Whether an item of the job is not final yet (stops at the first one it finds)."""
    unfinished = select(Item.id).where(Item.job_id == job_id, Item.status.not_in(FINAL))
    return bool((await session.execute(select(unfinished.exists()))).scalar_one())
