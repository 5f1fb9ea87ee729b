"""The rebuild's hold on the read models, and their reset."""

from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.tables import dead_letter, inbox_event
from bpo_reporting.models import READ_MODELS


async def lock_read_models(session: AsyncSession) -> None:
    """Hold the inbox, then every read model, until the transaction ends: the service's own
    consumer waits meanwhile, and finds afterwards that the rebuild applied its events. The
    inbox first, as the consumer's transactions take it: one under way finishes before the
    rebuild holds anything, and the next waits at its first statement holding nothing (with
    the inbox last, the rebuild held read models that a transaction holding the inbox went on
    to need, and one of the two was aborted as deadlocked)."""
    names = ", ".join(model.__tablename__ for model in READ_MODELS)
    await session.execute(text(f"LOCK TABLE inbox_event, {names} IN ACCESS EXCLUSIVE MODE"))


async def clear_read_models(session: AsyncSession, consumer: str) -> None:
    """Empty every read model, and forget the events the consumer took."""
    names = ", ".join(model.__tablename__ for model in READ_MODELS)
    await session.execute(text(f"TRUNCATE {names}"))
    await session.execute(delete(inbox_event).where(inbox_event.c.consumer == consumer))


async def dead_lettered(session: AsyncSession, consumer: str) -> set[UUID]:
    """The events the consumer gave up on (its dead letters that are events)."""
    result = await session.execute(
        select(dead_letter.c.event_id).where(
            dead_letter.c.consumer == consumer, dead_letter.c.event_id.is_not(None)
        )
    )
    return {event_id for event_id in result.scalars() if event_id is not None}
