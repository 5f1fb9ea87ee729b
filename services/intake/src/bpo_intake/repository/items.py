"""Queries on items."""

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, cast
from uuid import UUID

from sqlalchemy import ColumnClause, exists, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import among, as_arrays, copy_rows, update_arrays
from bpo_common.pagination import PageRequest, paginate
from bpo_intake.domain.jobs import ItemStatus, JobStatus
from bpo_intake.domain.results import ResultRow
from bpo_intake.models import Document, Item, Job
from bpo_intake.repository import is_erased, of_client
from bpo_intake.repository.documents import ITEM_DOCUMENT_NAMES


async def lock_job_for_items(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    """The job, key-share-locked until the transaction ends: items may be added to it from
    several requests at once, but it cannot be closed or cancelled meanwhile (FOR UPDATE);
    the decisions on its items (FOR NO KEY UPDATE) do not wait for an upload to end."""
    query = of_client(select(Job).where(Job.id == job_id), Job.client_id, scope)
    locked = query.with_for_update(read=True, key_share=True)
    return (await session.execute(locked)).scalar_one_or_none()


async def read_again(session: AsyncSession, job: Job) -> None:
    """The job's row as it is now (another transaction may have changed it since it was read)."""
    await session.refresh(job)


async def add_items(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Item.__table__, rows)


async def items_for_update(session: AsyncSession, item_ids: Iterable[UUID]) -> dict[UUID, Item]:
    """The items, locked in id order (so that two transactions never deadlock on them); an
    item whose data was erased (its own, or its job's) is left out: nothing changes it."""
    query = (
        select(Item)
        .where(among(Item.id, sorted(item_ids)), ~is_erased())
        .order_by(Item.id)
        .with_for_update(of=Item)
    )
    return {item.id: item for item in (await session.execute(query)).scalars()}


# What applying validation's decisions changes of an item (service.decisions).
DECIDED = (
    "status",
    "result",
    "completed_at",
    "flagged_reason",
    "learn_pending",
    "agreed",
    "exception_id",
    "exception_reasons",
)
_WRITE_DECIDED = update_arrays(Item.__table__, "id", DECIDED)


async def write_decided(session: AsyncSession, items: Sequence[Item]) -> None:
    """The items' DECIDED columns as they now stand, in one statement (the unit of work sends
    one UPDATE an item); the session then forgets the items, so that it never writes them
    again."""
    if not items:
        return
    rows = [{name: getattr(item, name) for name in ("id", *DECIDED)} for item in items]
    for item in items:
        session.expunge(item)
    await session.execute(_WRITE_DECIDED, as_arrays(rows, ["id", *DECIDED]))


async def jobs_of_items(session: AsyncSession, item_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The job of each item found, read without a lock (an item never changes job), so that
    the jobs can be locked before the items."""
    query = select(Item.id, Item.job_id).where(among(Item.id, list(item_ids)))
    return {item_id: job_id for item_id, job_id in await session.execute(query)}


async def get_item_for_update(session: AsyncSession, item_id: UUID) -> Item | None:
    query = select(Item).where(Item.id == item_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def item_unless_held(session: AsyncSession, item_id: UUID) -> Item | None:
    """The item, locked; None while another transaction holds it (a decision, an erasure),
    which is skipped rather than waited for: the caller holds a task of the item, which that
    transaction may be waiting for."""
    query = select(Item).where(Item.id == item_id).with_for_update(skip_locked=True)
    return (await session.execute(query)).scalar_one_or_none()


async def list_items(
    session: AsyncSession, job_id: UUID, status: ItemStatus | None, page: PageRequest
) -> list[Item]:
    # A control injected at a claim is none of the client's items.
    query = select(Item).where(Item.job_id == job_id, Item.control_of.is_(None))
    if status is not None:
        query = query.where(Item.status == status)
    return list((await session.execute(paginate(query, Item.id, page))).scalars())


async def flagged_items(session: AsyncSession, page: PageRequest) -> list[Item]:
    """The items flagged for a manager; not those of a cancelled job, where nothing is left
    to do (a requeue is refused), nor a control copy (none of the client's items; one given
    back is withdrawn, not flagged)."""
    flagged = (
        select(Item)
        .join(Job, Job.id == Item.job_id)
        .where(
            Item.flagged_reason.is_not(None),
            Item.control_of.is_(None),
            Job.status != JobStatus.CANCELLED,
        )
    )
    return list((await session.execute(paginate(flagged, Item.id, page))).scalars())


async def control_copies(session: AsyncSession, item_ids: list[UUID]) -> set[UUID]:
    """Those of the items that are control copies: injected at a claim or given in a
    qualification attempt."""
    if not item_ids:
        return set()
    query = select(Item.id).where(Item.id.in_(item_ids), Item.control_of.is_not(None))
    return set(await session.scalars(query))


_DOCUMENT_NAMES: ColumnClause[Any] = literal_column(ITEM_DOCUMENT_NAMES)


async def has_documents(session: AsyncSession, job_id: UUID) -> bool:
    query = select(exists().where(Document.job_id == job_id))
    return bool((await session.execute(query)).scalar())


async def completed_results(
    session: AsyncSession, job_id: UUID, batch_size: int
) -> AsyncIterator[Sequence[ResultRow]]:
    """Id, external id, result and completion time of a job's completed items in id order,
    `batch_size` rows at a time from a server-side cursor. Control items (the client's, or
    injected at claims) are no results."""
    no_answer = func.coalesce(func.jsonb_typeof(Item.golden), "null") == "null"
    result = await session.stream(
        select(Item.id, Item.external_id, Item.result, Item.completed_at, _DOCUMENT_NAMES)
        .where(Item.job_id == job_id, Item.status == ItemStatus.COMPLETED, no_answer)
        .order_by(Item.id)
        .execution_options(yield_per=batch_size)
    )
    async for rows in result.partitions():
        # A Row unpacks as the tuple of its columns, which is all a ResultRow is used for.
        yield cast(Sequence[ResultRow], rows)
