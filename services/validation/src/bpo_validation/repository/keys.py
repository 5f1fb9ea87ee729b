"""Queries of the jobs' data keys validation keeps, wrapped as intake gave them."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import among
from bpo_common.keystore import WrappedKeys
from bpo_validation.models import JobDataKey


async def wrapped_keys(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, str]:
    query = select(JobDataKey.job_id, JobDataKey.wrapped).where(
        among(JobDataKey.job_id, sorted(set(job_ids)))
    )
    return {job_id: wrapped for job_id, wrapped in await session.execute(query)}


async def add_keys(session: AsyncSession, wrapped: Mapping[UUID, str], now: datetime) -> None:
    """Keep the keys intake gave; one kept already (by another consumer) stays as it is."""
    if wrapped:
        rows = [{"job_id": j, "wrapped": w, "received_at": now} for j, w in wrapped.items()]
        await session.execute(insert(JobDataKey).values(rows).on_conflict_do_nothing())


# The kept keys, for rewrapping after a KEK rotation and the check at start.
KEPT_KEYS = WrappedKeys(JobDataKey.job_id, JobDataKey.wrapped)
