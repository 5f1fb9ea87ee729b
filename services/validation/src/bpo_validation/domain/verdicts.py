"""What a decision says of an item: its ruling, the outcome stored and shown for it, and the
verdict (domain.decision) that carries them with the reason, the result and what was judged."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bpo_validation.domain.accuracy import Ledger
from bpo_validation.domain.entries import Judging, Submission
from bpo_validation.domain.matching import InvoiceMatch


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REVIEW = "review"
    REJECTED = "rejected"
    # Adaptive QC asked for another keying before deciding.
    REKEY = "rekey"
    # An invoice that does not match its purchase order: the client's accounts payable decides.
    EXCEPTION = "exception"


class Ruling(StrEnum):
    """What becomes of the item."""

    ACCEPT = "accept"
    REVIEW = "review"
    ADJUDICATION = "adjudication"
    REJECT = "reject"
    SECOND_KEYING = "second keying"
    EXCEPTION = "exception"

    @property
    def outcome(self) -> Outcome:
        """The decision as stored and shown: a review and an adjudication are both a review."""
        return _OUTCOMES[self]

    @property
    def settles(self) -> bool:
        """Whether the item is final, so that each task's outcome can be said."""
        return self in (Ruling.ACCEPT, Ruling.REJECT)


_OUTCOMES = {
    Ruling.ACCEPT: Outcome.ACCEPTED,
    Ruling.REVIEW: Outcome.REVIEW,
    Ruling.ADJUDICATION: Outcome.REVIEW,
    Ruling.REJECT: Outcome.REJECTED,
    Ruling.SECOND_KEYING: Outcome.REKEY,
    Ruling.EXCEPTION: Outcome.EXCEPTION,
}


@dataclass(frozen=True)
class Verdict:
    """What one submission makes of its item."""

    # None: the item waits for more keyings.
    ruling: Ruling | None
    reason: str = ""
    result: dict[str, Any] | None = None
    comparison: list[dict[str, Any]] = field(default_factory=list)
    # The entries a review or an adjudication shows the person who does it.
    shown: tuple[Submission, ...] = ()
    # Judgements to record, in the order they were made: each keeps a tally.
    judgings: tuple[Judging, ...] = ()
    # Keyings that differ, judged against each other until the item's adjudication judges
    # them (domain.entries.disputed): adaptive QC reads them meanwhile.
    provisional: tuple[Judging, ...] = ()
    # What the reference check found wrong with the result: one that would have been accepted
    # (the item goes to review for it), or a final word's (accepted all the same).
    reference_problems: tuple[str, ...] = ()
    # How the result matched its purchase order, when the job matches invoices.
    match: InvoiceMatch | None = None
    # Adaptive QC on a first keying: the job's ledger with the item counted, and the item
    # accuracy of the keyer's single keying and of the crew's.
    ledger: Ledger | None = None
    trust: tuple[float, float] | None = None
    # A second keying of some fields only (none: the whole item).
    rekey: tuple[str, ...] = ()
    # A final word's fields on which it agrees with none of the keyings: its own answer there.
    own: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        """Whether the item's keyings are judged for good now (or it is rejected, which
        judges nobody): its provisional judgements, if any, are done with."""
        return self.ruling is Ruling.REJECT or any(not j.golden for j in self.judgings)
