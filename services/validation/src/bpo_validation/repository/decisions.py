"""Queries of items' entries and the decisions about them."""

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock, among, copy_instances
from bpo_validation.domain.verdicts import Outcome
from bpo_validation.models import Decision, Entry


def matching_lock(client_id: UUID) -> str:
    """The name of the lock that serializes matching the client's invoices: what one invoice
    bills of an order line is seen by the next."""
    return f"matching:{client_id}"


async def lock_items(
    session: AsyncSession,
    item_ids: Iterable[UUID],
    job_ids: Iterable[UUID] = (),
    matching: Iterable[UUID] = (),
) -> None:
    """Take the items' submissions one transaction at a time, until the transaction ends: a
    decision reads every entry of its item, and two consumers that each saw only their own
    keying of it would never decide. Their jobs' too (`job_ids`), which an erasure of a whole
    job takes, as one of items takes theirs: what arrives for them then waits for it, and
    finds it done. And the matching of the invoices of the clients `matching`, which the
    items' decisions may match. Taken in one order, so that two transactions never deadlock
    (one matching the invoices of clients A then B, another those of B then A, each locking
    a client as it came to its invoice, did).

    Every path takes validation's locks in this order: a delivery's names of jobs and
    contractors (`validation:…`, which only the consumer takes, before its first run), then
    the clients' matching ones (`matching:…`), then items and jobs (`validation-item:…`,
    `validation-job:…`); a path that needs fewer skips some, never goes back."""
    keys = [f"validation-item:{i}" for i in item_ids] + [f"validation-job:{j}" for j in job_ids]
    await advisory_lock(session, *sorted(keys + [matching_lock(c) for c in matching]))


async def add_entries(session: AsyncSession, entries: Sequence[Entry]) -> None:
    await copy_instances(session, entries)


async def entries_of_items(
    session: AsyncSession, item_ids: Sequence[UUID]
) -> dict[UUID, list[Entry]]:
    """Each item's entries, in the order they were submitted."""
    query = (
        select(Entry)
        .where(among(Entry.item_id, item_ids))
        .order_by(Entry.submitted_at, Entry.task_id)
    )
    entries: dict[UUID, list[Entry]] = {}
    for entry in (await session.execute(query)).scalars():
        entries.setdefault(entry.item_id, []).append(entry)
    return entries


async def entries_of_item(session: AsyncSession, item_id: UUID) -> list[Entry]:
    return (await entries_of_items(session, [item_id])).get(item_id, [])


async def unsettled_entries(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None = None
) -> list[Entry]:
    """The job's entries (on these of its items) on items with no final decision, nor one
    that waits on the client (a match exception, which its resolution settles), in the order
    they were submitted."""
    waiting = select(Decision.item_id).where(
        Decision.job_id == job_id,
        Decision.outcome.in_([Outcome.ACCEPTED, Outcome.REJECTED, Outcome.EXCEPTION]),
    )
    query = select(Entry).where(Entry.job_id == job_id, Entry.item_id.not_in(waiting))
    if item_ids is not None:
        query = query.where(among(Entry.item_id, item_ids))
    query = query.order_by(Entry.submitted_at, Entry.task_id)
    return list((await session.execute(query)).scalars())


async def add_decisions(session: AsyncSession, decisions: Sequence[Decision]) -> None:
    await copy_instances(session, decisions)


async def decisions_of_item(session: AsyncSession, item_id: UUID) -> list[Decision]:
    query = select(Decision).where(Decision.item_id == item_id).order_by(Decision.id)
    return list((await session.execute(query)).scalars())
