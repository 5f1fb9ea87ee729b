"""The rebuild's hold on the read models, their reset, and what they counted before it."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.ids import made_at
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


@dataclass(frozen=True)
class Unreplayed:
    """Events the read models counted before the rebuild that it did not replay, and when the
    first and the last of them were made, by their ids (not when the consumer took them: a
    rebuild takes every event it replays again, at its own time)."""

    events: int
    first_made: datetime
    last_made: datetime


async def note_counted(session: AsyncSession, consumer: str) -> bool:
    """Set aside, until the transaction ends, the events the consumer took (its inbox, which
    `clear_read_models` empties), for `unreplayed`; and whether the read models hold anything
    (an inbox that keeps events a limited time may hold none of what they count)."""
    await session.execute(
        text("CREATE TEMPORARY TABLE counted_before (event_id uuid NOT NULL) ON COMMIT DROP")
    )
    await session.execute(
        text(
            "INSERT INTO counted_before SELECT event_id FROM inbox_event WHERE consumer = :consumer"
        ),
        {"consumer": consumer},
    )
    held = " OR ".join(f"EXISTS (SELECT FROM {model.__tablename__})" for model in READ_MODELS)
    return bool((await session.execute(text(f"SELECT {held}"))).scalar_one())


async def unreplayed(session: AsyncSession, consumer: str) -> Unreplayed | None:
    """The events set aside by `note_counted` that are not in the consumer's inbox again
    (the replay did not find them), bar those it gave up on (which a replay leaves out when
    they fail again); None when there are none."""
    # The least and the greatest id, a UUIDv7's order being its time's, by the uuid's order:
    # PostgreSQL before 19 has no min() of uuid.
    row = (
        await session.execute(
            text(
                "WITH lost AS (SELECT event_id FROM counted_before c"
                " WHERE NOT EXISTS (SELECT FROM inbox_event i"
                " WHERE i.consumer = :consumer AND i.event_id = c.event_id)"
                " AND NOT EXISTS (SELECT FROM dead_letter d"
                " WHERE d.consumer = :consumer AND d.event_id = c.event_id))"
                " SELECT count(*),"
                " (SELECT event_id FROM lost ORDER BY event_id LIMIT 1),"
                " (SELECT event_id FROM lost ORDER BY event_id DESC LIMIT 1) FROM lost"
            ),
            {"consumer": consumer},
        )
    ).one()
    return Unreplayed(row[0], made_at(row[1]), made_at(row[2])) if row[0] else None


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
