"""The decision about an item, as one pure function of what validation knows of it.

After each submitted task, `decide` takes the job's field spec and QC policy, the item's
entries so far, what the client's reference data holds for the values it could accept, and
the keyer's recent record, and gives a verdict: what becomes of the item and why, the result,
the field-by-field comparison, and the fields judged on the way. `needs` says what to load
first; the use case then writes what the verdict says.

The table, once a keying completes the item's keyings:
- a control item: its known answer stands;
- a keying marked unreadable by its keyer: review, saying why;
- a keying that fails the job's rules: review;
- verify mode: the client's values stand, unless the verifier changed some or the item is
  sampled (review);
- adaptive mode, one keying: accepted from a keyer proven accurate on the work type, else
  keyed again;
- one keying: review when the item is sampled, else accepted;
- several keyings: accepted when they agree (and judged against each other), else
  adjudication.
What would be accepted from keyings is checked against the reference data first; a
disagreement goes to review. A review or an adjudication is final and judges the keyings,
unless an adjudicator agrees with no keying on some field: a second adjudicator decides then.
A reviewer may reject the item instead.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.rules import JobSpec, check
from bpo_validation.domain.fields import (
    FieldVerdict,
    canonical,
    comparison,
    differing,
    judge,
    rule_failures,
    sampled_for_review,
    unconfirmed,
)
from bpo_validation.domain.reference import (
    LookupResult,
    Wanted,
    lookups_of,
    reference_problems,
)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REVIEW = "review"
    REJECTED = "rejected"
    # Adaptive QC asked for another keying before deciding.
    REKEY = "rekey"


class Ruling(StrEnum):
    """What becomes of the item."""

    ACCEPT = "accept"
    REVIEW = "review"
    ADJUDICATION = "adjudication"
    REJECT = "reject"
    SECOND_KEYING = "second keying"

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
}


@dataclass(frozen=True)
class Submission:
    """One submitted task on the item: a keying, a review or an adjudication."""

    task_id: UUID
    kind: TaskKind
    contractor_id: UUID
    data: dict[str, Any]
    # The known answer of a control item.
    golden: dict[str, Any] | None = None
    # Verify mode: the client's own values, which the keyer checked.
    client_values: dict[str, Any] | None = None
    # A reviewer's reason for rejecting the item; on a keying, the keyer's reason it could
    # not be read.
    rejection: str | None = None
    entries_expected: int = 1


@dataclass(frozen=True)
class Item:
    item_id: UUID
    work_type: str
    # Every entry so far, in the order they were submitted; `submitted` is among them.
    entries: Sequence[Submission]
    submitted: Submission


@dataclass(frozen=True)
class KeyerRecord:
    """The keyer's most recent judged fields on the item's work type."""

    judged: int
    correct: int


@dataclass(frozen=True)
class Judged:
    entry: Submission
    fields: tuple[FieldVerdict, ...]


@dataclass(frozen=True)
class Judging:
    """Entries judged field by field against one truth: a known answer (`golden`), or the
    result the item is accepted with."""

    golden: bool
    entries: tuple[Judged, ...]

    def tallies(self) -> dict[UUID, tuple[int, int]]:
        """(judged, correct) fields per contractor, each contractor judged (if on no field)."""
        counts: dict[UUID, tuple[int, int]] = {}
        for judged in self.entries:
            total, right = counts.get(judged.entry.contractor_id, (0, 0))
            counts[judged.entry.contractor_id] = (
                total + len(judged.fields),
                right + sum(verdict.correct for verdict in judged.fields),
            )
        return counts


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
    # What the reference check found wrong with the result that would have been accepted.
    reference_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Needs:
    """What a decision reads beyond the item itself."""

    lookups: tuple[Wanted, ...] = ()
    keyer_record: bool = False


def needs(spec: JobSpec, policy: QcPolicy, item: Item) -> Needs:
    """What to load before deciding: the lookups of the values keyings could be accepted with,
    and whether adaptive QC may trust a single keying (then the keyer's record)."""
    keyings = _keyings_due(item)
    if not keyings:
        return Needs()
    return Needs(
        # Whatever keyings are accepted with is the first keying's values.
        lookups=tuple(dict.fromkeys(lookups_of(spec, canonical(spec, keyings[0].data)))),
        keyer_record=policy.mode is QcMode.ADAPTIVE and len(keyings) == 1,
    )


def decide(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    *,
    lookups: Mapping[Wanted, LookupResult],
    keyer: KeyerRecord | None,
    adaptive_min_judged: int,
    confirm_adjudications: bool,
) -> Verdict:
    """The verdict on an item after its latest submission (see the module's table).

    `lookups` holds what each of `needs(...).lookups` found; `keyer` the keyer's record when
    `needs(...).keyer_record`. Adaptive QC trusts a keyer with at least `adaptive_min_judged`
    judged fields; with `confirm_adjudications`, an adjudication that agrees with no keying on
    some field goes to a second adjudicator."""
    submitted = item.submitted
    if submitted.kind is not TaskKind.ENTRY:
        return _final_word(spec, item, confirm_adjudications)
    golden: tuple[Judging, ...] = ()
    if submitted.golden is not None:
        golden = (_judging(spec, [submitted], submitted.golden, golden=True),)
    keyings = _keyings_due(item)
    if not keyings:
        return Verdict(None, judgings=golden)
    verdict = _on_keyings(spec, policy, item, keyings, lookups, keyer, adaptive_min_judged)
    return replace(verdict, judgings=golden + verdict.judgings)


def _keyings_due(item: Item) -> list[Submission]:
    """The item's keyings when the submitted one completes them (a decision is due), else none."""
    if item.submitted.kind is not TaskKind.ENTRY:
        return []
    keyings = [entry for entry in item.entries if entry.kind is TaskKind.ENTRY]
    return keyings if len(keyings) >= item.submitted.entries_expected else []


def _on_keyings(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    keyings: Sequence[Submission],
    lookups: Mapping[Wanted, LookupResult],
    keyer: KeyerRecord | None,
    adaptive_min_judged: int,
) -> Verdict:
    first, rate = keyings[0], policy.review_sample_rate
    if first.golden is not None:
        result = check(spec, first.golden, partial=True).normalized
        return Verdict(Ruling.ACCEPT, "control item: the known answer stands", result)
    unreadable = [keying.rejection for keying in keyings if keying.rejection is not None]
    if unreadable:
        return _review(Ruling.REVIEW, f"marked unreadable: {'; '.join(unreadable)}", keyings, [])
    broken = rule_failures(spec, [keying.data for keying in keyings])
    if broken:
        return _review(Ruling.REVIEW, broken, keyings, [])
    if first.client_values is not None:
        return _verification(spec, item, first, first.client_values, rate, lookups)
    if len(keyings) == 1 and policy.mode is QcMode.ADAPTIVE:
        assert keyer is not None, "needs() asks for the keyer's record"
        return _adaptive(spec, policy, item, first, keyer, adaptive_min_judged, lookups)
    if len(keyings) == 1 and sampled_for_review(item.item_id, rate):
        return _review(Ruling.REVIEW, f"sampled for review at rate {rate}", keyings, [])
    if len(keyings) == 1:
        result = canonical(spec, first.data)
        return _checked(spec, lookups, result, "single keying, valid", [], keyings)
    rows = comparison(spec, [keying.data for keying in keyings])
    differ = differing(rows)
    if differ:
        return _review(Ruling.ADJUDICATION, f"keyings differ on {', '.join(differ)}", keyings, rows)
    agreed = _judging(spec, keyings, first.data, golden=False)
    reason = f"{len(keyings)} keyings agree"
    return _checked(spec, lookups, canonical(spec, first.data), reason, rows, keyings, agreed)


def _verification(
    spec: JobSpec,
    item: Item,
    entry: Submission,
    client_values: dict[str, Any],
    rate: Decimal,
    lookups: Mapping[Wanted, LookupResult],
) -> Verdict:
    """Verify mode: the client's values stand if the verifier kept them; changes go to review."""
    client = check(spec, client_values, partial=True).normalized
    rows = comparison(spec, [client, entry.data])
    changed = differing(rows)
    if changed:
        reason = f"the verifier changed {', '.join(changed)} from the client's values"
        return _review(Ruling.REVIEW, reason, [entry], rows)
    if sampled_for_review(item.item_id, rate):
        return _review(Ruling.REVIEW, f"sampled for review at rate {rate}", [entry], rows)
    reason = "verified: the client's values stand"
    return _checked(spec, lookups, canonical(spec, entry.data), reason, rows, [entry])


def _adaptive(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    entry: Submission,
    keyer: KeyerRecord,
    min_judged: int,
    lookups: Mapping[Wanted, LookupResult],
) -> Verdict:
    """One keying is enough from a keyer proven accurate on this work type; else key it again."""
    target, rate = policy.target_accuracy, policy.review_sample_rate
    judged, correct = keyer.judged, keyer.correct
    if sampled_for_review(item.item_id, rate):
        reason = f"sampled for a second keying at rate {rate}"
    elif judged < min_judged:
        reason = f"the keyer has {judged} judged fields on {item.work_type}, too few to trust"
    elif Decimal(correct) / Decimal(judged) < target:
        reason = f"the keyer's accuracy {correct / judged:.1%} is below the target {target:.1%}"
    else:
        why = f"one keying: the keyer's accuracy {correct / judged:.1%} meets {target:.1%}"
        return _checked(spec, lookups, canonical(spec, entry.data), why, [], [entry])
    return Verdict(Ruling.SECOND_KEYING, reason)


def _final_word(spec: JobSpec, item: Item, confirm_adjudications: bool) -> Verdict:
    """A reviewer's or adjudicator's entry is final; it judges the keyings before it, or
    rejects the item. An adjudicator who agrees with no keying on a field is confirmed by a
    second adjudicator first (when `confirm_adjudications`)."""
    review = item.submitted
    if review.rejection is not None:
        return Verdict(Ruling.REJECT, f"rejected in {review.kind}: {review.rejection}")
    keyings = [e for e in item.entries if e.kind is TaskKind.ENTRY and e.golden is None]
    rows = comparison(spec, [keying.data for keying in keyings] + [review.data])
    adjudications = [e for e in item.entries if e.kind is TaskKind.ADJUDICATION]
    if review.kind is TaskKind.ADJUDICATION and len(adjudications) == 1 and confirm_adjudications:
        alone = unconfirmed(spec, review.data, [keying.data for keying in keyings])
        if alone:
            reason = (
                f"the adjudicator's {', '.join(alone)} agrees with no keying; "
                "a second adjudicator decides"
            )
            return _review(Ruling.ADJUDICATION, reason, [*keyings, review], rows)
    return Verdict(
        Ruling.ACCEPT,
        f"{review.kind} by {review.contractor_id} is final",
        review.data,
        rows,
        judgings=(_judging(spec, keyings, review.data, golden=False),),
    )


def _checked(
    spec: JobSpec,
    lookups: Mapping[Wanted, LookupResult],
    result: dict[str, Any],
    reason: str,
    rows: list[dict[str, Any]],
    keyings: Sequence[Submission],
    *judgings: Judging,
) -> Verdict:
    """Accepted, unless the result disagrees with the client's reference data: that is an
    exception a reviewer must look at, with what disagrees as the reason."""
    problems = reference_problems(spec, result, lookups)
    if not problems:
        return Verdict(Ruling.ACCEPT, reason, result, rows, judgings=judgings)
    return replace(
        _review(Ruling.REVIEW, f"reference check: {'; '.join(problems)}", keyings, rows),
        judgings=judgings,
        reference_problems=tuple(problems),
    )


def _review(
    ruling: Ruling, reason: str, shown: Sequence[Submission], rows: list[dict[str, Any]]
) -> Verdict:
    return Verdict(ruling, reason, comparison=rows, shown=tuple(shown))


def _judging(
    spec: JobSpec, entries: Sequence[Submission], truth: dict[str, Any], *, golden: bool
) -> Judging:
    return Judging(
        golden, tuple(Judged(entry, tuple(judge(spec, entry.data, truth))) for entry in entries)
    )
