"""Publishing an event is inserting it into the outbox in the caller's transaction.

Only the relay talks to JetStream; see `bpo_common.relay`.
"""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.context import current_correlation_id
from bpo_common.db import copy_rows
from bpo_common.events import Envelope, Event, wrap
from bpo_common.tables import outbox_event


async def publish(
    session: AsyncSession, event: Event, *, client_id: UUID | None = None
) -> Envelope:
    """Add one event to the outbox; it is published once the session's transaction commits."""
    (envelope,) = await publish_many(session, [event], client_id=client_id)
    return envelope


def envelope_for(session: AsyncSession, event: Event, *, client_id: UUID | None = None) -> Envelope:
    """The envelope `publish` would store: for a statement that writes its outbox row itself
    (`outbox_values` gives the row), in the same statement as the change it announces."""
    return wrap(
        event,
        source=session.info["source"],
        client_id=client_id,
        correlation_id=current_correlation_id(),
    )


def outbox_values(envelope: Envelope) -> tuple[UUID, str, bytes]:
    """(id, subject, payload) of the envelope's outbox row."""
    return envelope.id, envelope.subject, envelope.model_dump_json().encode()


def insert_for_each(source: str, first_parameter: int) -> str:
    """SQL that stores one outbox row (the `outbox_values` of an envelope, as the driver's
    parameters `$first_parameter` to `$first_parameter + 2`) for each row `source` yields:
    the tail of one statement that changes state and announces it, so that the event exists
    exactly when the change does."""
    first = first_parameter
    # Only names and parameter numbers go into the text; the values travel as parameters.
    return (
        f"INSERT INTO {outbox_event.name} (id, subject, payload) "  # noqa: S608
        f"SELECT ${first}, ${first + 1}, ${first + 2} FROM {source}"
    )


async def publish_many(
    session: AsyncSession, events: Sequence[Event], *, client_id: UUID | None = None
) -> list[Envelope]:
    return await publish_each(session, [(event, client_id) for event in events])


async def publish_each(
    session: AsyncSession, events: Sequence[tuple[Event, UUID | None]]
) -> list[Envelope]:
    """Add events to the outbox, each for its client (or none), in one statement (COPY);
    they are published in this order once the session's transaction commits."""
    envelopes = [envelope_for(session, event, client_id=client_id) for event, client_id in events]
    rows = [
        dict(zip(("id", "subject", "payload"), outbox_values(envelope), strict=True))
        for envelope in envelopes
    ]
    await copy_rows(session, outbox_event, rows)
    return envelopes
