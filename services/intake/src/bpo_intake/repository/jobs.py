"""Queries on jobs."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import among
from bpo_common.keystore import WrappedKeys
from bpo_common.pagination import PageRequest, paginate
from bpo_intake.domain.jobs import FINAL, ItemStatus
from bpo_intake.models import Erasure, Item, Job, JobAccuracy
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


async def job_to_add_to(session: AsyncSession, job_id: UUID) -> Job | None:
    """The job, key-share-locked as an upload locks it, so that a control or a qualification's
    copy put into it cannot land in a job a close, cancel or erasure is withdrawing; None
    while one of those holds the job (skipped, not waited for: the caller holds task locks the
    withdrawal needs), or when there is no such job."""
    query = (
        select(Job)
        .where(Job.id == job_id)
        .with_for_update(read=True, key_share=True, skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def jobs_of_items_for_update(
    session: AsyncSession, item_ids: Iterable[UUID]
) -> dict[UUID, Job]:
    """The jobs of these items, locked in id order (so that two transactions never deadlock on
    them), FOR NO KEY UPDATE: against each other and a close or cancel, not an upload of items.
    One statement: an item never changes job, so its job is found without locking the item."""
    of_items = select(Item.job_id).where(among(Item.id, sorted(set(item_ids))))
    query = select(Job).where(Job.id.in_(of_items)).order_by(Job.id).with_for_update(key_share=True)
    return {job.id: job for job in (await session.execute(query)).scalars()}


async def list_jobs(
    session: AsyncSession, scope: UUID | None, page: PageRequest, flagged: bool | None = None
) -> list[Job]:
    """A page of jobs; `flagged`: only those that did not deliver their target accuracy
    (True), or only the others (False)."""
    query = of_client(select(Job), Job.client_id, scope)
    if flagged is not None:
        missed = exists().where(JobAccuracy.job_id == Job.id, JobAccuracy.met.is_(False))
        query = query.where(missed if flagged else ~missed)
    return list((await session.execute(paginate(query, Job.id, page))).scalars())


async def record_accuracy(session: AsyncSession, delivered: JobAccuracy) -> bool:
    """Keep the accuracy a job delivered, unless a later estimate of it is kept already;
    whether it was kept."""
    columns = JobAccuracy.__table__.columns
    statement = insert(JobAccuracy).values({c.name: getattr(delivered, c.key) for c in columns})
    kept = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[JobAccuracy.job_id],
            set_={c.name: statement.excluded[c.name] for c in columns if not c.primary_key},
            where=JobAccuracy.decided_at < statement.excluded.decided_at,
        ).returning(JobAccuracy.job_id)
    )
    return kept.first() is not None


async def accuracies(session: AsyncSession, job_ids: Sequence[UUID]) -> dict[UUID, JobAccuracy]:
    """The delivered accuracy of those of the jobs validation has announced it for."""
    query = select(JobAccuracy).where(among(JobAccuracy.job_id, job_ids))
    return {row.job_id: row for row in (await session.execute(query)).scalars()}


async def item_counts(
    session: AsyncSession, job_ids: Sequence[UUID]
) -> dict[UUID, dict[ItemStatus, int]]:
    """The jobs' items per status; controls injected at claims are none of them."""
    rows = await session.execute(
        select(Item.job_id, Item.status, func.count())
        .where(among(Item.job_id, job_ids), Item.control_of.is_(None))
        .group_by(Item.job_id, Item.status)
    )
    counts: dict[UUID, dict[ItemStatus, int]] = {job_id: {} for job_id in job_ids}
    for job_id, status, count in rows:
        counts[job_id][status] = count
    return counts


async def last_final_at(session: AsyncSession, job_id: UUID) -> datetime | None:
    """When the job's last item became final (controls injected at claims aside)."""
    query = select(func.max(Item.completed_at)).where(
        Item.job_id == job_id, Item.control_of.is_(None)
    )
    result: datetime | None = await session.scalar(query)
    return result


async def has_unfinished_items(session: AsyncSession, job_id: UUID) -> bool:
    """Whether an item of the job is not final yet (stops at the first one it finds); a
    control injected at a claim does not hold the job up."""
    unfinished = select(Item.id).where(
        Item.job_id == job_id, Item.status.not_in(FINAL), Item.control_of.is_(None)
    )
    return bool((await session.execute(select(unfinished.exists()))).scalar_one())


async def data_keys_of(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, str | None]:
    """The wrapped data keys of the jobs that exist (None: a job made before jobs had one)."""
    query = select(Job.id, Job.data_key).where(among(Job.id, sorted(set(job_ids))))
    return {job_id: wrapped for job_id, wrapped in await session.execute(query)}


async def give_data_key(session: AsyncSession, job_id: UUID, wrapped: str) -> str | None:
    """Store a data key for a job that has none; the job's key (this one, or the one another
    transaction gave it first), None when there is no such job or its data was erased (a new
    key then would let late values of it be read again)."""
    erased = exists().where(Erasure.job_id == Job.id, Erasure.item_ids.is_(None))
    given = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.data_key.is_(None), ~erased)
        .values(data_key=wrapped)
        .returning(Job.data_key)
    )
    stored = given.scalar_one_or_none()
    if stored is None:
        stored = (await session.execute(select(Job.data_key).where(Job.id == job_id))).scalar()
    return stored


# The jobs' data keys, for rewrapping after a KEK rotation and the check at start.
DATA_KEYS = WrappedKeys(Job.id, Job.data_key)


async def jobs_by_id(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, Job]:
    query = select(Job).where(among(Job.id, sorted(set(job_ids))))
    return {job.id: job for job in (await session.execute(query)).scalars()}
