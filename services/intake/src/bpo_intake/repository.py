"""Every query of the intake service."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest
from bpo_intake.models import Client, Item, ItemStatus, Job


async def add_client(session: AsyncSession, client: Client) -> None:
    session.add(client)
    await session.flush()


async def client_exists(session: AsyncSession, client_id: UUID) -> bool:
    return (await session.get(Client, client_id)) is not None


async def add_job(session: AsyncSession, job: Job) -> None:
    session.add(job)
    await session.flush()
    # Read back what was stored (times in UTC, NUMERIC at its scale) so the answer matches a GET.
    await session.refresh(job)


async def add_items(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Item), rows)


async def get_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    query = select(Job).where(Job.id == job_id)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def list_jobs(session: AsyncSession, scope: UUID | None, page: PageRequest) -> list[Job]:
    query = select(Job).order_by(Job.id).limit(page.limit + 1)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    if page.after is not None:
        query = query.where(Job.id > page.after)
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
