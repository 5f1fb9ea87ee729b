"""The words every service uses for work: kinds of task, how a task came out, QC policy.

Events carry them, and each service stores and shows them as these values.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# The machine as a keyer: validation scores extraction's confident suggestions as this
# contractor's entries (`GET /v1/contractors/{id}/quality` shows how it does).
MACHINE_CONTRACTOR_ID = UUID("00000000-0000-7000-8000-00000000a11e")


class TaskKind(StrEnum):
    ENTRY = "entry"
    REVIEW = "review"
    ADJUDICATION = "adjudication"


# accepted: the work stands; overturned: the final answer differs on at least one field;
# rejected: a review or an adjudication rejected the item itself (an invoice refused at the
# exception queue is not: its keyings are judged by their fields); unjudged: the item was
# never decided (its job cancelled or its data erased first), so nothing judges the work (it
# stands, counted in no accuracy).
class TaskOutcome(StrEnum):
    ACCEPTED = "accepted"
    OVERTURNED = "overturned"
    REJECTED = "rejected"
    UNJUDGED = "unjudged"


# Billing's API has published this type as `Outcome` from its first version; clients' code
# generated from that document keeps the name.
TaskOutcome.__name__ = TaskOutcome.__qualname__ = "Outcome"


class ExceptionAction(StrEnum):
    """How the client's accounts-payable team resolves a match exception."""

    # The invoice stands as keyed.
    ACCEPT = "accept"
    REJECT = "reject"
    # The invoice stands with the data the client gives.
    CORRECT = "correct"


class QcMode(StrEnum):
    SINGLE = "single"
    DOUBLE = "double"
    VERIFY = "verify"
    # A second keying only where the keyer is not yet accurate enough, or the item is sampled.
    ADAPTIVE = "adaptive"
    # The machine keys first: a field whose confident suggestion a person confirms counts as
    # keyed twice in agreement; an item with any other field is keyed by a second person.
    ASSISTED = "assisted"


class QcPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: QcMode = QcMode.SINGLE
    review_sample_rate: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(0)
    # The share of an adaptive job's items right that it delivers (95 % confidence).
    target_accuracy: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.99")
    # A suggestion at or above this confidence is the machine's keying (assisted mode).
    suggestion_threshold: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.8")
    # The share of control items whose pre-fill is deliberately wrong on one field: how often
    # a keyer accepts it is part of their quality.
    wrong_suggestion_rate: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.25")
    # The share of entry claims that get a control item instead (a copy of one of the
    # client's control items of the work type), more for new or doubted keyers.
    golden_rate: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(0)
    # The client lets this job's items that two keyers agreed on (an adjudicator settling
    # where they differed) serve as control items of its jobs of the work type.
    agreed_controls: bool = False
