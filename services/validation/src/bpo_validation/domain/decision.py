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
- adaptive mode, one keying: accepted when the job, with it, still delivers its target
  accuracy with 95 % confidence given what is known of the keyer (domain.accuracy), else
  keyed again: only the fields the keyer is weak on, where that is enough, else all;
- assisted mode, one keying: accepted when the keyer confirmed a confident machine value on
  every field (each counts as two keyings that agree), else keyed again;
- one keying: review when the item is sampled, else accepted;
- several keyings: accepted when they agree (and judged against each other), else
  adjudication, the keyings judged provisionally against each other meanwhile
  (domain.entries.disputed); a partial second keying is compared on its fields, the first
  keying's others standing (domain.entries).
What would be accepted from keyings is checked against the reference data first (a sampled
item's values too, so that its reviewer is told): a disagreement goes to review, the reason
saying what disagrees. An invoice job then matches what would be accepted against its
purchase order (`matched`, after the use case loads what matching reads): a mismatch is an
exception the client's accounts payable resolves. A review or an adjudication is final and
judges the keyings, unless an adjudicator agrees with no keying on some field: a second
adjudicator decides then; what its values disagree with in the reference data is said in the
reason. A reviewer may reject the item instead.

The machine is judged with the first keying, on the fields it was confident of (its planted
wrong values aside), and never counts in a keyer's tally; a keyer shown a wrong pre-fill is
judged on whether they kept it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bpo_common.contracts import QcMode, QcPolicy, TaskKind, reasons
from bpo_common.rules import JobSpec, check
from bpo_validation.domain import accuracy
from bpo_validation.domain.accuracy import KeyerAccuracy
from bpo_validation.domain.entries import (
    Item,
    Judging,
    Submission,
    disputed,
    judging,
    keyings_of,
    machine_keying,
    rekeyed,
)
from bpo_validation.domain.fields import (
    canonical,
    comparison,
    differing,
    judged_fields,
    rule_failures,
    table_rows,
    unconfirmed,
)
from bpo_validation.domain.matching import InvoiceMatch
from bpo_validation.domain.reference import (
    LookupResult,
    Wanted,
    lookups_of,
    reference_problems,
)
from bpo_validation.domain.verdicts import Ruling, Verdict


@dataclass(frozen=True)
class Needs:
    """What a decision reads beyond the item itself."""

    lookups: tuple[Wanted, ...] = ()
    keyer_accuracy: bool = False


def needs(spec: JobSpec, policy: QcPolicy, item: Item) -> Needs:
    """What to load before deciding: the lookups of the values the item could be accepted
    with, and whether adaptive QC rules on a single keying (then the keyer's accuracy and the
    job's ledger)."""
    keyings, submitted = _keyings_due(item), item.submitted
    final = submitted.kind is not TaskKind.ENTRY and submitted.rejection is None
    if not (keyings or final):
        return Needs()
    # Whatever keyings are accepted with is the first keying's values; else a final word's.
    values = keyings[0].data if keyings else submitted.data
    return Needs(
        lookups=tuple(dict.fromkeys(lookups_of(spec, canonical(spec, values)))),
        keyer_accuracy=policy.mode is QcMode.ADAPTIVE and len(keyings) == 1,
    )


def decide(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    *,
    lookups: Mapping[Wanted, LookupResult],
    keyer: KeyerAccuracy | None,
    confirm_adjudications: bool,
) -> Verdict:
    """The verdict on an item after its latest submission (see the module's table).

    `lookups` holds what each of `needs(...).lookups` found; `keyer` what adaptive QC reads
    when `needs(...).keyer_accuracy`. With `confirm_adjudications`, an adjudication that
    agrees with no keying on some field goes to a second adjudicator."""
    submitted = item.submitted
    if submitted.kind is not TaskKind.ENTRY:
        return _final_word(spec, policy, item, lookups, confirm_adjudications)
    golden: tuple[Judging, ...] = ()
    if submitted.golden is not None:
        # With the item's first keying read (not the earliest submitted: events may come out
        # of order), so that the machine is judged once.
        first = len(keyings_of(item)) == 1
        machine = machine_keying(policy, submitted, item.item_id) if first else None
        truth, only = submitted.golden, submitted.keyed_fields
        golden = (judging(spec, [submitted], truth, golden=True, machine=machine, only=only),)
    keyings = _keyings_due(item)
    if not keyings:
        return Verdict(None, judgings=golden)
    verdict = _on_keyings(spec, policy, item, keyings, lookups, keyer)
    return replace(verdict, judgings=golden + verdict.judgings)


def _keyings_due(item: Item) -> list[Submission]:
    """The item's keyings when the submitted one completes them (a decision is due), else none."""
    if item.submitted.kind is not TaskKind.ENTRY:
        return []
    keyings = keyings_of(item)
    return keyings if len(keyings) >= item.submitted.entries_expected else []


def _on_keyings(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    keyings: Sequence[Submission],
    lookups: Mapping[Wanted, LookupResult],
    keyer: KeyerAccuracy | None,
) -> Verdict:
    first, rate = keyings[0], policy.review_sample_rate
    if first.golden is not None:
        result = check(spec, first.golden, partial=True).normalized
        return Verdict(Ruling.ACCEPT, "control item: the known answer stands", result)
    unreadable = [keying.rejection for keying in keyings if keying.rejection is not None]
    if unreadable:
        return _review(Ruling.REVIEW, reasons.unreadable(unreadable), keyings, [])
    broken = rule_failures(spec, [keying.data for keying in keyings])
    if broken:
        return _review(Ruling.REVIEW, broken, keyings, [])
    if first.client_values is not None:
        return _verification(spec, item, first, first.client_values, rate, lookups)
    if len(keyings) == 1 and policy.mode is QcMode.ADAPTIVE:
        assert keyer is not None, "needs() asks for the keyer's accuracy"
        return _adaptive(spec, policy, item, first, keyer, lookups)
    machine = machine_keying(policy, first, item.item_id)
    if len(keyings) == 1 and policy.mode is QcMode.ASSISTED:
        return _assisted(spec, first, machine, lookups)
    if len(keyings) == 1:
        result, sample = canonical(spec, first.data), _sample(item, rate)
        return _checked(spec, lookups, result, "single keying, valid", [], keyings, sample=sample)
    rows = comparison(spec, [keying.data for keying in keyings])
    differ = differing(rows)
    only = rekeyed(keyings)
    if differ:
        reason = f"keyings differ on {', '.join(differ)}"
        provisional = (disputed(spec, keyings, only),)
        return replace(_review(Ruling.ADJUDICATION, reason, keyings, rows), provisional=provisional)
    agreed = judging(spec, keyings, first.data, golden=False, machine=machine, only=only)
    reason = f"{len(keyings)} keyings agree" + (
        f" on {', '.join(only)}, the first keying's other fields standing" if only else ""
    )
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
    # The client's values as it wrote them.
    client = check(spec.source, client_values, partial=True).normalized
    rows = comparison(spec, [client, entry.data])
    changed = differing(rows)
    if changed:
        reason = f"the verifier changed {', '.join(changed)} from the client's values"
        return _review(Ruling.REVIEW, reason, [entry], rows)
    reason, result = "verified: the client's values stand", canonical(spec, entry.data)
    return _checked(spec, lookups, result, reason, rows, [entry], sample=_sample(item, rate))


def _adaptive(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    entry: Submission,
    keyer: KeyerAccuracy,
    lookups: Mapping[Wanted, LookupResult],
) -> Verdict:
    """One keying is enough when the job still delivers its target with it alone; else key
    it again (an item sampled at the review rate is keyed again all the same)."""
    names, rows = judged_fields(spec), table_rows(spec, entry.data)
    mine = accuracy.beliefs(names, keyer.crew, keyer.own)
    crew = accuracy.crew_beliefs(names, keyer.crew)
    single, second = mine.trust(rows), crew.trust(rows)
    # The items keyed twice, and this keyer's single keyings, at what is known now.
    ledger = keyer.ledger.rechecked(crew.twice).refreshed({entry.contractor_id: mine.trust})
    rate, trust = policy.review_sample_rate, (single.p, second.p)
    # The item counted as checked: sampled for a second keying, or settled by a reviewer.
    checked = ledger.add_checked(accuracy.both_wrong(single, second))
    if item.sampled(rate):
        reason = f"sampled for a second keying at rate {rate}"
        return Verdict(Ruling.SECOND_KEYING, reason, ledger=checked, trust=trust)
    ruled = accuracy.rule(
        ledger, entry.contractor_id, single, second, float(policy.target_accuracy)
    )
    if ruled.again:
        again = Ruling.SECOND_KEYING
        return Verdict(again, ruled.reason, ledger=ruled.ledger, trust=trust, rekey=ruled.only)
    verdict = _checked(spec, lookups, canonical(spec, entry.data), ruled.reason, [], [entry])
    kept = ruled.ledger if verdict.ruling is Ruling.ACCEPT else checked  # a reference check's
    return replace(verdict, ledger=kept, trust=trust)


def _assisted(
    spec: JobSpec,
    entry: Submission,
    machine: Submission | None,
    lookups: Mapping[Wanted, LookupResult],
) -> Verdict:
    """One keying is enough when it confirms a confident machine value on every field."""
    agreed = machine.data if machine else {}
    # A field neither the machine nor the keyer gave a value for agrees: both found none.
    differ = unconfirmed(spec, entry.data, [agreed])
    if differ:
        reason = f"assisted: the machine's values were not confirmed on {', '.join(differ)}"
        return Verdict(Ruling.SECOND_KEYING, reason)
    reason = f"assisted: the keyer confirmed the machine's values on all {len(agreed)} fields"
    result = canonical(spec, entry.data)
    judged = judging(spec, [entry], result, golden=False, machine=machine)
    return _checked(spec, lookups, result, reason, [], [entry], judged)


def _final_word(
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    lookups: Mapping[Wanted, LookupResult],
    confirm_adjudications: bool,
) -> Verdict:
    """A reviewer's or adjudicator's entry is final; it judges the keyings before it, or
    rejects the item. An adjudicator who agrees with no keying on a field is confirmed by a
    second adjudicator first (when `confirm_adjudications`). What it finds wrong with the
    reference data is said in the reason: the reviewer may know better than the client's
    data, but not without a word on the decision."""
    review = item.submitted
    if review.rejection is not None:
        return Verdict(Ruling.REJECT, reasons.rejected(review.kind, review.rejection))
    keyings = [keying for keying in keyings_of(item) if keying.golden is None]
    rows = comparison(spec, [keying.data for keying in keyings] + [review.data])
    adjudications = [e for e in item.entries if e.kind is TaskKind.ADJUDICATION]
    alone = unconfirmed(spec, review.data, [keying.data for keying in keyings])
    first = review.kind is TaskKind.ADJUDICATION and len(adjudications) == 1
    if first and confirm_adjudications and alone:
        reason = (
            f"the adjudicator's {', '.join(alone)} agrees with no keying; "
            "a second adjudicator decides"
        )
        return _review(Ruling.ADJUDICATION, reason, [*keyings, review], rows)
    machine = machine_keying(policy, keyings[0], item.item_id) if keyings else None
    problems = reference_problems(spec, canonical(spec, review.data), lookups)
    final = f"{review.kind} by {review.contractor_id} is final"
    return Verdict(
        Ruling.ACCEPT,
        reasons.together(final, reasons.reference_check(problems)),
        review.data,
        rows,
        reference_problems=tuple(problems),
        judgings=(
            judging(
                spec, keyings, review.data, golden=False, machine=machine, only=rekeyed(keyings)
            ),
        ),
        own=tuple(alone),
    )


def _checked(
    spec: JobSpec,
    lookups: Mapping[Wanted, LookupResult],
    result: dict[str, Any],
    reason: str,
    rows: list[dict[str, Any]],
    keyings: Sequence[Submission],
    *judgings: Judging,
    sample: str = "",
) -> Verdict:
    """Accepted, unless the item is in the review sample (`sample` says so) or the result
    disagrees with the client's reference data: then a reviewer looks, the reason saying what
    disagrees, so that a sampled item is not checked less than one outside the sample."""
    problems = reference_problems(spec, result, lookups)
    if not (sample or problems):
        return Verdict(Ruling.ACCEPT, reason, result, rows, judgings=judgings)
    # The review's final word judges the keyings (judged here too, they counted twice).
    why = reasons.together(sample, reasons.reference_check(problems))
    return replace(_review(Ruling.REVIEW, why, keyings, rows), reference_problems=tuple(problems))


def _sample(item: Item, rate: Decimal) -> str:
    """Why the item goes to review when it is in the review sample; else nothing."""
    return f"sampled for review at rate {rate}" if item.sampled(rate) else ""


def matched(verdict: Verdict, invoice: InvoiceMatch) -> Verdict:
    """An accepted invoice after matching it against its order: accepted still when every line
    matches, else an exception for the client's accounts payable, with the reasons."""
    if not invoice.matched:
        checked = reasons.reference_check(verdict.reference_problems)  # a final word's
        reason = reasons.together(reasons.unmatched(invoice.reasons), checked)
        return replace(verdict, ruling=Ruling.EXCEPTION, reason=reason, match=invoice)
    assert invoice.order is not None, "an invoice matches the order it names"
    return replace(verdict, reason=reasons.matched(verdict.reason, invoice.order), match=invoice)


def _review(
    ruling: Ruling, reason: str, shown: Sequence[Submission], rows: list[dict[str, Any]]
) -> Verdict:
    return Verdict(ruling, reason, comparison=rows, shown=tuple(shown))
