"""The event envelope and the base of every event contract.

An event is a fact in the past tense. Its `event_type` is also the JetStream subject
(`bpo.<service>.<entity>.<verb>`), so the stream `BPO` on `bpo.>` carries every event.
"""

import builtins
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from bpo_common.clock import utcnow
from bpo_common.ids import new_id

STREAM_NAME = "BPO"
STREAM_SUBJECTS = ["bpo.>"]
# What a reader of events applies at once, in bytes of them as sent (one event past it alone):
# a backlog of events near the 2 MiB a record may reach is applied a few at a time, not a
# hundred or five hundred in one transaction (a gigabyte as sent, more once parsed).
BATCH_BYTES = 16 * 1024 * 1024

E = TypeVar("E", bound="Event")

_registry: dict[str, type["Event"]] = {}


class Event(BaseModel):
    """Base of every event contract: frozen, versioned, ids and values only."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            if cls.event_type in _registry:
                raise TypeError(f"event type {cls.event_type} is defined twice")
            _registry[cls.event_type] = cls


def event_class(event_type: str) -> type[Event]:
    return _registry[event_type]


class Envelope(BaseModel):
    """What travels on the wire: one shape for every event of every service."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    type: str
    source: str
    time: AwareDatetime
    client_id: UUID | None = None
    correlation_id: str | None = None
    version: int
    data: dict[str, Any]

    @property
    def subject(self) -> str:
        return self.type

    def payload(self, cls: builtins.type[E]) -> E:
        """The event, read as it was accepted when it was published: a check added since (a
        job spec's, say) does not refuse an event the stream holds (see STORED)."""
        if cls.event_type != self.type:
            raise TypeError(f"envelope holds {self.type}, not {cls.event_type}")
        if self.version > cls.version:
            raise NewerVersion(
                f"{self.type} version {self.version}: this release reads up to version "
                f"{cls.version}"
            )
        return cls.model_validate(self.data, context={STORED: True})


class Waiting(Exception):
    """What an event needs is not there yet: another event (its job), a key another service
    gives, a replica that reads its version. Its consumer retries it for as long as that takes,
    and dead-letters it only after BPO_CONSUMER_WAIT_S."""


class NewerVersion(Waiting):
    """An event of a version of its contract newer than this release reads (another release's,
    during a rolling upgrade): left, as an event of a type it does not handle is, to a replica
    of the newer release (dead-lettered after BPO_CONSUMER_WAIT_S if none takes it)."""


# The validation context's key for data read back (stored, or on the stream), not sent by a
# client now: validators added since let it be as it was accepted.
STORED = "stored"


def wrap(
    event: Event,
    *,
    source: str,
    client_id: UUID | None = None,
    correlation_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    return Envelope(
        id=new_id(),
        type=event.event_type,
        source=source,
        time=time or utcnow(),
        client_id=client_id,
        correlation_id=correlation_id,
        version=event.version,
        data=event.model_dump(mode="json"),
    )
