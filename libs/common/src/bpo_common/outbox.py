"""Publishing an event is inserting it into the outbox in the caller's transaction.

Only the relay talks to JetStream; see `bpo_common.relay`.
"""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.context import current_correlation_id
from bpo_common.events import Envelope, Event, wrap
from bpo_common.tables import outbox_event


async def publish(
    session: AsyncSession, event: Event, *, client_id: UUID | None = None
) -> Envelope:
    """Add one event to the outbox; it is published once the session's transaction commits."""
    (envelope,) = await publish_many(session, [event], client_id=client_id)
    return envelope


async def publish_many(
    session: AsyncSession, events: Sequence[Event], *, client_id: UUID | None = None
) -> list[Envelope]:
    source: str = session.info["source"]
    correlation_id = current_correlation_id()
    envelopes = [
        wrap(event, source=source, client_id=client_id, correlation_id=correlation_id)
        for event in events
    ]
    if envelopes:
        connection = await session.connection()
        await connection.execute(
            insert(outbox_event),
            [
                {
                    "id": envelope.id,
                    "subject": envelope.subject,
                    "payload": envelope.model_dump_json().encode(),
                }
                for envelope in envelopes
            ],
        )
    return envelopes
