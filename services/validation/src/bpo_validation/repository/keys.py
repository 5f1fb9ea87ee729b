"""Queries of the jobs' data keys validation keeps, wrapped as intake gave them."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_validation.models import JobDataKey


async def wrapped_keys(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, str]:
    query = select(JobDataKey.job_id, JobDataKey.wrapped).where(
        JobDataKey.job_id.in_(sorted(set(job_ids)))
    )
    return {job_id: wrapped for job_id, wrapped in await session.execute(query)}


async def add_keys(session: AsyncSession, wrapped: Mapping[UUID, str], now: datetime) -> None:
    """Keep the keys intake gave; one kept already (by another consumer) stays as it is."""
    if wrapped:
        rows = [{"job_id": j, "wrapped": w, "received_at": now} for j, w in wrapped.items()]
        await session.execute(insert(JobDataKey).values(rows).on_conflict_do_nothing())


async def keys_to_rewrap(
    session: AsyncSession, current_kek: str, limit: int
) -> list[tuple[UUID, str]]:
    """Keys another KEK than the current one wraps, locked (others skipped)."""
    query = (
        select(JobDataKey.job_id, JobDataKey.wrapped)
        .where(_wrapped_by(JobDataKey.wrapped) != current_kek)
        .order_by(JobDataKey.job_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(job_id, wrapped) for job_id, wrapped in await session.execute(query)]


async def set_keys(session: AsyncSession, wrapped: Mapping[UUID, str]) -> None:
    for job_id, key in wrapped.items():
        await session.execute(
            update(JobDataKey).where(JobDataKey.job_id == job_id).values(wrapped=key)
        )


async def key_per_kek(session: AsyncSession) -> dict[UUID, str]:
    """One job's wrapped key for each KEK that wraps any."""
    kek = _wrapped_by(JobDataKey.wrapped)
    query = (
        select(JobDataKey.job_id, JobDataKey.wrapped)
        .ext(distinct_on(kek))
        .order_by(kek, JobDataKey.job_id.desc())
    )
    return {job_id: wrapped for job_id, wrapped in await session.execute(query)}


def _wrapped_by(wrapped: Any) -> Any:
    """The id of the KEK that wraps a kept key (`dek:v1:<KEK id>:...`)."""
    return func.split_part(wrapped, ":", 3)
