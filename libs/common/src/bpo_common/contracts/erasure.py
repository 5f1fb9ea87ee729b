"""What each service answers to intake's DataErased once it erased what it holds: one
contract, a subject per service (`bpo.<service>.erasure.done`)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from bpo_common.contracts import intake, validation
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.contracts.validation import ExceptionOpened, ItemAccepted, ReviewRequired
from bpo_common.events import Event

ErasingService = Literal["intake", "validation", "billing", "reporting"]


class ErasureDone(Event):
    """A service erased the values of a job (`item_ids` None) or of some of its items."""

    erasure_id: UUID
    service: ErasingService
    job_id: UUID
    item_ids: list[UUID] | None
    erased_at: datetime


class ValidationErasureDone(ErasureDone):
    event_type = "bpo.validation.erasure.done"


class BillingErasureDone(ErasureDone):
    event_type = "bpo.billing.erasure.done"


class ReportingErasureDone(ErasureDone):
    event_type = "bpo.reporting.erasure.done"


# The events that carry an item's values (sealed): what an item's erasure empties on the
# stream. Every event with a Sealed field is here (a unit test checks).
SEALED_EVENTS: tuple[type[Event], ...] = (
    TaskSubmitted,
    ItemAccepted,
    ReviewRequired,
    ExceptionOpened,
)

# The events that carry what a person typed about an item, in clear: a keyer's "cannot read
# it" and a reviewer's rejection (`rejection`, an entry's `unreadable`), and the reasons that
# quote them or the item's values (`reason`, joined by bpo_common.contracts.reasons: a
# reference check's in ReviewRequired). An item's erasure empties that text on the stream,
# the fixed words of a reason staying.
TYPED_EVENTS: tuple[type[Event], ...] = (
    TaskSubmitted,
    ReviewRequired,
    validation.ItemRejected,
    intake.ItemRejected,
)
