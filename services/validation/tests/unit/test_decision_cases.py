"""The decision's cases one by one: reference lookups, adaptive trust, verification,
adjudication and rejection, with the judgements each one makes."""

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.ids import new_id
from bpo_common.rules import JobSpec
from bpo_validation.domain import decision
from bpo_validation.domain.accuracy import KeyerAccuracy, Ledger, Trust
from bpo_validation.domain.crew import Crew, Tally
from bpo_validation.domain.fields import FieldVerdict
from bpo_validation.domain.matching import InvoiceMatch, InvoiceOutcome
from bpo_validation.domain.reference import LookupResult, Wanted
from bpo_validation.domain.verdicts import Ruling, Verdict

from .walking import ITEM, ORDERS, SPEC, keying, review, walk

SINGLE, ADAPTIVE = QcPolicy(), QcPolicy(mode=QcMode.ADAPTIVE, target_accuracy=Decimal("0.95"))
# In the review sample at any rate above 0.005 (bpo_common.ids.share_of).
SAMPLED = UUID(int=10)

PURCHASE_ORDERS = JobSpec.model_validate(
    {
        "fields": [
            {
                "name": "number",
                "type": "string",
                "lookup": {
                    "dataset": "purchase-orders",
                    "checks": [
                        {"field": "total", "column": "amount", "tolerance": "0.05"},
                        {"field": "vendor", "column": "vendor"},
                    ],
                },
            },
            {"name": "total", "type": "decimal", "decimal_places": 2},
            {"name": "vendor", "type": "string", "case": "upper"},
        ]
    }
)
PO_1 = LookupResult(True, {"po": "PO-1", "vendor": "ACME", "amount": "1,000.50"})
PO_2 = LookupResult(True, {"po": "PO-2", "vendor": "Globex", "amount": "20"})
UNKNOWN = LookupResult(True, None)


@pytest.mark.parametrize(
    ("keyed", "found", "problem"),
    [
        ({"number": "po-1", "total": "1000.49", "vendor": "acme"}, PO_1, None),
        (
            {"number": "PO-9", "total": "5", "vendor": "ACME"},
            UNKNOWN,
            "number PO-9 is not in purchase-orders",
        ),
        (
            {"number": "PO-1", "total": "1000.60", "vendor": "ACME"},
            PO_1,
            "total 1000.60 differs from amount 1,000.50 by more than 0.05",
        ),
        (
            {"number": "PO-2", "total": "20", "vendor": "ACME"},
            PO_2,
            "vendor ACME is not vendor Globex",
        ),
        (
            {"number": "PO-2", "total": "20", "vendor": "ACME"},
            LookupResult(True, {"po": "PO-2", "amount": "20"}),
            "purchase-orders has no column vendor",
        ),
        (
            {"number": "V-1", "total": "1", "vendor": "ACME"},
            LookupResult(False),
            "there is no reference dataset purchase-orders to find number in",
        ),
    ],
    ids=["within-tolerance", "unknown-key", "amount-off", "other-vendor", "no-such-column",
         "no-dataset"],
)  # fmt: skip
def test_a_result_that_disagrees_with_the_reference_data_goes_to_review(
    keyed: dict[str, Any], found: LookupResult, problem: str | None
) -> None:
    wanted = Wanted("purchase-orders", keyed["number"].casefold())
    (verdict,) = walk(PURCHASE_ORDERS, SINGLE, [keying(keyed)], found={wanted: found})
    if problem is None:
        assert (verdict.ruling, verdict.reference_problems) == (Ruling.ACCEPT, ())
        assert verdict.result == {"number": "po-1", "total": "1000.49", "vendor": "ACME"}
        return
    assert (verdict.ruling, verdict.reason) == (Ruling.REVIEW, f"reference check: {problem}")
    assert verdict.reference_problems == (problem,)
    assert verdict.result is None


def _margin(items: int) -> Ledger:
    """A job's ledger after `items` items keyed twice."""
    ledger = Ledger()
    for _ in range(items):
        ledger = ledger.add_checked(Trust(0.9999, 0.0001))
    return ledger


PROVEN = {"number": Tally(4000, 3996), "total": Tally(4000, 3996)}
WEAK = {"number": Tally(1000, 900), "total": Tally(1000, 900)}
# Eight keyers alike: the crew's figure weighs the most against a keyer's own.
CREW = Crew(
    {UUID(int=n): {"number": Tally(2500, 2488), "total": Tally(2500, 2488)} for n in range(8)}
)


@pytest.mark.parametrize(
    ("keyer", "item_id", "ruling", "reason"),
    [
        (KeyerAccuracy(PROVEN, CREW, _margin(200)), None, Ruling.ACCEPT,
         "one keying: the keyer's item accuracy 99.65% keeps the job's delivered accuracy at "
         "99.863% or more (99 % confidence), target 95.00%"),
        (KeyerAccuracy(PROVEN, CREW), None, Ruling.SECOND_KEYING,
         "keyed again: with the keyer's item accuracy 99.65% alone the job's delivered "
         "accuracy could fall to 85.855%, under its target 99.50%"),
        (KeyerAccuracy(WEAK, CREW, _margin(200)), None, Ruling.SECOND_KEYING,
         "keyed again: the keyer's item accuracy 89.79% is under the crew's 99.04% and the "
         "target 95.00%"),
        (KeyerAccuracy({}, CREW, _margin(200)), None, Ruling.ACCEPT,
         "one keying: the keyer's item accuracy 99.04% keeps the job's delivered accuracy at "
         "99.832% or more (99 % confidence), target 95.00%"),
        (KeyerAccuracy(PROVEN, CREW, _margin(200)), SAMPLED, Ruling.SECOND_KEYING,
         "sampled for a second keying at rate 0.5"),
    ],
    ids=["proven-with-margin", "proven-first-item", "weak", "newcomer-as-the-crew", "sampled"],
)  # fmt: skip
def test_adaptive_qc_trusts_one_keying_only_while_the_job_keeps_its_target(
    keyer: KeyerAccuracy, item_id: UUID | None, ruling: Ruling, reason: str
) -> None:
    target = "0.95" if keyer.ledger.items else "0.995"
    policy = ADAPTIVE.model_copy(
        update={"review_sample_rate": Decimal("0.5"), "target_accuracy": Decimal(target)}
    )
    steps = [keying({"number": "po-1", "total": "10"})]
    (verdict,) = walk(SPEC, policy, steps, keyer=keyer, item_id=item_id or ITEM)
    assert (verdict.ruling, verdict.reason) == (ruling, reason)
    expected = {"number": "PO-1", "total": "10.00"} if ruling is Ruling.ACCEPT else None
    assert verdict.result == expected
    assert verdict.judgings == ()
    assert verdict.ledger is not None, "the item counts in the job's ledger"
    assert verdict.ledger.items == keyer.ledger.items + 1
    assert verdict.ledger.single == keyer.ledger.single + (ruling is Ruling.ACCEPT)


def test_a_trusted_keyers_result_is_still_checked_against_the_reference_data() -> None:
    off = keying({"number": "PO-1", "total": "12"})
    (verdict,) = walk(SPEC, ADAPTIVE, [off], keyer=KeyerAccuracy(PROVEN, CREW, _margin(200)))
    assert (verdict.ruling, verdict.reason) == (
        Ruling.REVIEW,
        "reference check: total 12.00 is not amount 10.00",
    )
    assert verdict.shown == (off,)
    # A reviewer settles it: the job's ledger counts it checked, not carried by the keyer alone.
    assert verdict.ledger is not None
    assert (verdict.ledger.items, verdict.ledger.single) == (201, 0)


@pytest.mark.parametrize(
    ("verified", "item_id", "ruling", "reason"),
    [
        ({"number": "PO-1", "total": "10"}, None, Ruling.ACCEPT,
         "verified: the client's values stand"),
        ({"number": "PO-1", "total": "100"}, None, Ruling.REVIEW,
         "the verifier changed total from the client's values"),
        ({"number": "PO-1", "total": "10"}, SAMPLED, Ruling.REVIEW,
         "sampled for review at rate 0.5"),
    ],
    ids=["kept", "changed", "kept-but-sampled"],
)  # fmt: skip
def test_verify_mode_keeps_the_clients_values_or_sends_changes_to_review(
    verified: dict[str, Any], item_id: UUID | None, ruling: Ruling, reason: str
) -> None:
    policy = QcPolicy(mode=QcMode.VERIFY, review_sample_rate=Decimal("0.5"))
    client_values = {"number": "PO-1", "total": "10.00"}
    entry = keying(verified, client_values=client_values)
    (verdict,) = walk(SPEC, policy, [entry], item_id=item_id or ITEM)
    assert (verdict.ruling, verdict.reason) == (ruling, reason)
    assert verdict.comparison[1] == {
        "field": "total",
        "values": ["10.00", verified["total"]],
        "equal": verified["total"] == "10",
    }
    assert verdict.shown == (() if ruling is Ruling.ACCEPT else (entry,))


def test_a_single_keying_in_the_sample_is_shown_to_a_reviewer() -> None:
    entry = keying({"number": "PO-1", "total": "10"})
    policy = QcPolicy(review_sample_rate=Decimal("0.5"))
    (verdict,) = walk(SPEC, policy, [entry], item_id=SAMPLED)
    assert (verdict.ruling, verdict.reason) == (Ruling.REVIEW, "sampled for review at rate 0.5")
    assert (verdict.shown, verdict.comparison) == ((entry,), [])


@pytest.mark.parametrize("mode", [QcMode.SINGLE, QcMode.VERIFY])
def test_a_sampled_item_is_checked_against_the_reference_data_and_its_review_says_so(
    mode: QcMode,
) -> None:
    # Outside the sample the unknown order sends it to review: in it, the reviewer is told.
    keyed = {"number": "PO-9", "total": "5.00"}
    entry = keying(keyed, client_values=keyed if mode is QcMode.VERIFY else None)
    policy = QcPolicy(mode=mode, review_sample_rate=Decimal("0.5"))
    missing = {Wanted("orders", "po-9"): UNKNOWN}
    (verdict,) = walk(SPEC, policy, [entry], found=missing, item_id=SAMPLED)
    problem = "number PO-9 is not in orders"
    assert (verdict.ruling, verdict.reason) == (
        Ruling.REVIEW,
        f"sampled for review at rate 0.5; reference check: {problem}",
    )
    assert (verdict.reference_problems, verdict.shown, verdict.result) == (
        (problem,),
        (entry,),
        None,
    )


FIELDS = JobSpec.model_validate(
    {"fields": [{"name": "number", "type": "string"}, {"name": "total", "type": "decimal"}]}
)
DOUBLE = QcPolicy(mode=QcMode.DOUBLE)
RIGHT, WRONG = keying({"number": "A", "total": "7"}, 2), keying({"number": "A", "total": "1"}, 2)


def test_keyings_that_differ_go_to_adjudication_which_judges_each_keying() -> None:
    final = review({"number": "A", "total": "7.00"}, TaskKind.ADJUDICATION)
    _, differ, decided = walk(FIELDS, DOUBLE, [RIGHT, WRONG, final], found={})
    assert (differ.ruling, differ.shown) == (Ruling.ADJUDICATION, (RIGHT, WRONG))
    assert differ.judgings == ()
    # Meanwhile each keying is judged against the other: provisionally wrong where they differ.
    (provisional,) = differ.provisional
    assert [(j.entry, j.fields) for j in provisional.entries] == [
        (RIGHT, (FieldVerdict("number", True), FieldVerdict("total", False))),
        (WRONG, (FieldVerdict("number", True), FieldVerdict("total", False))),
    ]
    assert decided.provisional == ()
    assert (decided.ruling, decided.reason) == (
        Ruling.ACCEPT,
        f"adjudication by {final.contractor_id} is final",
    )
    assert decided.result == final.data
    assert decided.comparison[1] == {"field": "total", "values": ["7", "1", "7.00"], "equal": False}
    (judging,) = decided.judgings
    assert not judging.golden
    assert [(j.entry, j.fields) for j in judging.entries] == [
        (RIGHT, (FieldVerdict("number", True), FieldVerdict("total", True))),
        (WRONG, (FieldVerdict("number", True), FieldVerdict("total", False))),
    ]


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "not-confirmed"])
def test_an_adjudicator_agreeing_with_no_keying_is_confirmed_by_a_second_one(
    confirm: bool,
) -> None:
    alone = review({"number": "A", "total": "9"}, TaskKind.ADJUDICATION, new_id())
    second = review({"number": "A", "total": "7"}, TaskKind.ADJUDICATION, new_id())
    steps = [RIGHT, WRONG, alone, second]
    *_, first_word, last_word = walk(FIELDS, DOUBLE, steps, found={}, confirm_adjudications=confirm)
    if not confirm:
        assert (first_word.ruling, first_word.result) == (Ruling.ACCEPT, alone.data)
        return
    assert (first_word.ruling, first_word.reason) == (
        Ruling.ADJUDICATION,
        "the adjudicator's total agrees with no keying; a second adjudicator decides",
    )
    assert first_word.shown == (RIGHT, WRONG, alone)
    assert first_word.judgings == ()
    assert (last_word.ruling, last_word.result) == (Ruling.ACCEPT, second.data)
    assert [j.tallies() for j in last_word.judgings] == [
        {RIGHT.contractor_id: (2, 2), WRONG.contractor_id: (2, 1)}
    ]


def test_a_final_word_the_reference_data_disagrees_with_stands_and_the_reason_says_so() -> None:
    # The keyings differ; the adjudicator, who may know better, picks the one whose order the
    # reference data lacks (had both keyed it, the item would have gone to review for it).
    keyed = [("PO-9", "10.00"), ("PO-1", "10.50")]
    keyings = [keying({"number": number, "total": total}, 2) for number, total in keyed]
    final = review({"number": "PO-9", "total": "10.00"}, TaskKind.ADJUDICATION)
    found = {**ORDERS, Wanted("orders", "po-9"): UNKNOWN}
    *_, decided = walk(SPEC, DOUBLE, [*keyings, final], found=found)
    problem = "number PO-9 is not in orders"
    assert (decided.ruling, decided.result) == (Ruling.ACCEPT, final.data)
    assert decided.reason == (
        f"adjudication by {final.contractor_id} is final; reference check: {problem}"
    )
    assert decided.reference_problems == (problem,)


def test_an_invoice_a_final_word_accepted_says_its_reference_problems_matched_or_not() -> None:
    problem = "number PO-9 is not in orders"
    said = f"review by R is final; reference check: {problem}"
    verdict = Verdict(Ruling.ACCEPT, said, {"number": "PO-9"}, reference_problems=(problem,))
    found = InvoiceMatch("PO-9", InvoiceOutcome.MATCHED)
    assert decision.matched(verdict, found).reason == f"{said}; matches order: PO-9"
    missing = InvoiceMatch(None, InvoiceOutcome.NO_ORDER, reasons=["order PO-9 is not in po"])
    assert decision.matched(verdict, missing).reason == (
        f"does not match its purchase order: order PO-9 is not in po; reference check: {problem}"
    )


def test_a_reviewer_can_reject_the_item() -> None:
    keyed = keying({"number": "A", "total": "5"})
    rejection = review({}, rejection="the scan is unreadable")
    _, verdict = walk(FIELDS, QcPolicy(review_sample_rate=Decimal(1)), [keyed, rejection], found={})
    assert (verdict.ruling, verdict.reason) == (
        Ruling.REJECT,
        "rejected in review: the scan is unreadable",
    )
    assert (verdict.result, verdict.comparison, verdict.judgings) == (None, [], ())


def test_a_keyer_judged_on_no_field_still_keeps_a_tally() -> None:
    entry = keying({"number": "A", "total": "5"}, 2, golden={})
    (verdict,) = walk(FIELDS, DOUBLE, [entry], found={})
    assert verdict.ruling is None
    assert [j.tallies() for j in verdict.judgings] == [{entry.contractor_id: (0, 0)}]


def test_a_keying_marked_unreadable_goes_to_review_saying_why_then_the_reviewer_decides() -> None:
    unreadable = keying({}, 2, rejection="page 2 is cut off")
    keyed = keying({"number": "A", "total": "7"}, 2)
    final = review({"number": "A", "total": "7"})
    _, due, decided = walk(FIELDS, DOUBLE, [keyed, unreadable, final], found={})
    assert (due.ruling, due.reason) == (Ruling.REVIEW, "marked unreadable: page 2 is cut off")
    assert due.shown == (keyed, unreadable)
    assert (decided.ruling, decided.result) == (Ruling.ACCEPT, final.data)
    # It keyed no field: judged on none (its task is overturned; scoring.task_outcome), not
    # wrong on every field, which paid it as overturned and counted toward its suspension.
    assert [j.tallies() for j in decided.judgings] == [
        {keyed.contractor_id: (2, 2), unreadable.contractor_id: (0, 0)}
    ]


@pytest.mark.parametrize("number", ["A", None], ids=["every field given", "first field empty"])
def test_a_control_marked_unreadable_is_judged_as_one_wrong_field(number: str | None) -> None:
    # A control is readable by its making: marking every one unreadable must not pass a
    # qualification (judged on no field, each would count right; nor may an answer's empty
    # first field, as an empty keying has it, count right); judged wrong on every field, one
    # control of a hundred cells would suspend its keyer at once.
    control = keying({}, 1, golden={"number": number, "total": "7"}, rejection="cannot read")
    (verdict,) = walk(FIELDS, SINGLE, [control], found={})
    assert [j.tallies() for j in verdict.judgings] == [{control.contractor_id: (1, 0)}]


def test_a_reference_check_review_leaves_the_judging_to_the_review() -> None:
    # Both keyed an order the reference data lacks; the reviewer corrects the number. Each
    # keying is judged once, by the review: 2 fields, 1 right (judged at the check too, they
    # counted 4 fields, 3 right).
    first, second = (
        keying({"number": "PO-9", "total": "10.00"}, 2),
        keying({"number": "PO-9", "total": "10.00"}, 2),
    )
    final = review({"number": "PO-1", "total": "10.00"})
    missing: dict[Wanted, LookupResult] = {
        Wanted("orders", "po-9"): LookupResult(False, None),
        **ORDERS,
    }
    verdicts = walk(SPEC, DOUBLE, [first, second, final], found=missing)
    assert verdicts[1].ruling is Ruling.REVIEW
    tallies: dict[UUID, tuple[int, int]] = {}
    for verdict in verdicts:
        for judging in verdict.judgings:
            for contractor, (judged, right) in judging.tallies().items():
                was = tallies.get(contractor, (0, 0))
                tallies[contractor] = (was[0] + judged, was[1] + right)
    assert tallies == {first.contractor_id: (2, 1), second.contractor_id: (2, 1)}
