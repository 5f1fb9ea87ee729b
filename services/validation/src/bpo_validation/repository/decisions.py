"""Queries of an item's entries and the decisions about it."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock
from bpo_validation.models import Decision, Entry


async def lock_item(session: AsyncSession, item_id: UUID) -> None:
    """Take the item's submissions one at a time, until the transaction ends: a decision reads
    every entry of its item, and two consumers that each saw only their own keying of it
    would never decide."""
    await advisory_lock(session, f"validation-item:{item_id}")


async def add_entry(session: AsyncSession, entry: Entry) -> None:
    session.add(entry)
    await session.flush()


async def entries_of_item(session: AsyncSession, item_id: UUID) -> list[Entry]:
    query = (
        select(Entry).where(Entry.item_id == item_id).order_by(Entry.submitted_at, Entry.task_id)
    )
    return list((await session.execute(query)).scalars())


async def add_decision(session: AsyncSession, decision: Decision) -> None:
    session.add(decision)


async def decisions_of_item(session: AsyncSession, item_id: UUID) -> list[Decision]:
    query = select(Decision).where(Decision.item_id == item_id).order_by(Decision.id)
    return list((await session.execute(query)).scalars())
