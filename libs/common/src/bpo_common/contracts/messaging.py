"""Events of the messaging plumbing itself, published by whichever service hit them."""

from uuid import UUID

from bpo_common.events import Event


class EventDeadLettered(Event):
    """A consumer gave up on an event after its last delivery; it waits in `dead_letter`."""

    event_type = "bpo.messaging.event.dead_lettered"

    consumer: str
    event_id: UUID | None
    subject: str
    deliveries: int
    error: str
