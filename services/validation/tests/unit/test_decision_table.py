"""The decision table, walked through the pure decision: each QC mode against agreeing,
differing, invalid, golden and lookup-mismatched entries, with no server."""

from decimal import Decimal
from typing import Any

import pytest

from bpo_common.contracts import QcMode, QcPolicy
from bpo_validation.domain import decision
from bpo_validation.domain.entries import Item, Submission
from bpo_validation.domain.reference import Wanted
from bpo_validation.domain.verdicts import Outcome, Ruling

from .walking import ITEM, REVIEWER, SPEC, keying, review, walk

RIGHT = {"number": "PO-1", "total": "10"}
SAME = {"number": "po-1", "total": "10.00"}
OTHER = {"number": "PO-1", "total": "11"}
INVALID = {"number": "PO-1", "total": "ten"}
OFF = {"number": "PO-1", "total": "12"}  # valid, but not what the purchase order says
ACCEPTED = {"number": "PO-1", "total": "10.00"}
BAD_TOTAL = "total: not a number"
NOT_THE_ORDER = "reference check: total 12.00 is not amount 10.00"
# A keyer and a crew nobody judged yet, on the job's first item (domain.accuracy).
UNPROVEN = (
    "keyed again: with the keyer's item accuracy 81.00% alone the job's delivered accuracy "
    "could fall to 0.000%, under its target 99.00%"
)


# mode -> case -> (the entries in order, the ruling, its reason); an entry is the keyed values,
# or ("review", values) for a reviewer's. Golden rows carry RIGHT as the known answer.
TABLE: dict[QcMode, dict[str, tuple[list[Any], Ruling, str]]] = {
    QcMode.SINGLE: {
        "agree": ([SAME], Ruling.ACCEPT, "single keying, valid"),
        "disagree": (
            [OTHER, ("review", ACCEPTED)],
            Ruling.ACCEPT,
            f"review by {REVIEWER} is final",
        ),
        "invalid": ([INVALID], Ruling.REVIEW, f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], Ruling.ACCEPT, "control item: the known answer stands"),
        "lookup mismatch": ([OFF], Ruling.REVIEW, NOT_THE_ORDER),
    },
    QcMode.DOUBLE: {
        "agree": ([RIGHT, SAME], Ruling.ACCEPT, "2 keyings agree"),
        "disagree": ([RIGHT, OTHER], Ruling.ADJUDICATION, "keyings differ on total"),
        "invalid": (
            [RIGHT, INVALID],
            Ruling.REVIEW,
            f"keying 2 of 2 fails the job's rules: {BAD_TOTAL}",
        ),
        "golden": ([OTHER, RIGHT], Ruling.ACCEPT, "control item: the known answer stands"),
        "lookup mismatch": ([OFF, OFF], Ruling.REVIEW, NOT_THE_ORDER),
    },
    QcMode.VERIFY: {
        "agree": ([SAME], Ruling.ACCEPT, "verified: the client's values stand"),
        "disagree": (
            [OTHER],
            Ruling.REVIEW,
            "the verifier changed total from the client's values",
        ),
        "invalid": ([INVALID], Ruling.REVIEW, f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], Ruling.ACCEPT, "control item: the known answer stands"),
        "lookup mismatch": ([OFF], Ruling.REVIEW, NOT_THE_ORDER),  # the client's values disagree
    },
    QcMode.ADAPTIVE: {
        "agree": ([RIGHT, SAME], Ruling.ACCEPT, "2 keyings agree"),
        "disagree": ([RIGHT, OTHER], Ruling.ADJUDICATION, "keyings differ on total"),
        "invalid": ([INVALID], Ruling.REVIEW, f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], Ruling.ACCEPT, "control item: the known answer stands"),
        "lookup mismatch": ([OFF, OFF], Ruling.REVIEW, NOT_THE_ORDER),
    },
}


def _steps(mode: QcMode, case: str, values: list[Any]) -> list[Submission]:
    keyed = [value for value in values if not isinstance(value, tuple)]
    steps = []
    for n, value in enumerate(values, 1):
        if isinstance(value, tuple):
            steps.append(review(value[1]))
            continue
        client_values = OFF if case == "lookup mismatch" else RIGHT
        steps.append(
            keying(
                value,
                {QcMode.DOUBLE: len(keyed), QcMode.ADAPTIVE: n}.get(mode, 1),
                golden=RIGHT if case == "golden" else None,
                client_values=client_values if mode is QcMode.VERIFY else None,
            )
        )
    return steps


@pytest.mark.parametrize(
    ("mode", "case"),
    [(mode, case) for mode, cases in TABLE.items() for case in cases],
    ids=[f"{mode}-{case}" for mode, cases in TABLE.items() for case in cases],
)
def test_the_decision_table_holds_for_every_mode_and_case(mode: QcMode, case: str) -> None:
    values, ruling, reason = TABLE[mode][case]
    sample = Decimal(1 if (mode, case) == (QcMode.SINGLE, "disagree") else 0)
    policy = QcPolicy(mode=mode, review_sample_rate=sample)
    *before, last = walk(SPEC, policy, _steps(mode, case, values))
    assert (last.ruling, last.reason) == (ruling, reason)
    if ruling is Ruling.ACCEPT:
        assert last.result == ACCEPTED
    else:
        assert last.result is None
    if mode is QcMode.DOUBLE and before:
        assert before[0].ruling is None, "one keying of two decides nothing"
    if mode is QcMode.ADAPTIVE and before:
        assert (before[0].ruling, before[0].reason) == (Ruling.SECOND_KEYING, UNPROVEN)


def test_a_ruling_is_stored_as_its_outcome_and_only_acceptance_and_rejection_settle() -> None:
    assert {ruling: (ruling.outcome, ruling.settles) for ruling in Ruling} == {
        Ruling.ACCEPT: (Outcome.ACCEPTED, True),
        Ruling.REVIEW: (Outcome.REVIEW, False),
        Ruling.ADJUDICATION: (Outcome.REVIEW, False),
        Ruling.REJECT: (Outcome.REJECTED, True),
        Ruling.SECOND_KEYING: (Outcome.REKEY, False),
        Ruling.EXCEPTION: (Outcome.EXCEPTION, False),
    }


def test_a_decision_needs_the_lookups_of_what_it_accepts_and_adaptive_the_keyers_accuracy() -> None:
    adaptive, double = QcPolicy(mode=QcMode.ADAPTIVE), QcPolicy(mode=QcMode.DOUBLE)
    one = keying({"number": " po-7 ", "total": "1"})
    only = Item(ITEM, "invoice", [one], one)
    assert decision.needs(SPEC, adaptive, only) == decision.Needs((Wanted("orders", "po-7"),), True)
    assert decision.needs(SPEC, double, only) == decision.Needs((Wanted("orders", "po-7"),), False)
    first = keying(RIGHT, expected=2)
    assert decision.needs(SPEC, double, Item(ITEM, "invoice", [first], first)) == decision.Needs()
    # A final word is checked too, not a rejection.
    final, rejection = review(RIGHT), review({}, rejection="torn")
    item = Item(ITEM, "invoice", [one, final], final)
    assert decision.needs(SPEC, adaptive, item) == decision.Needs((Wanted("orders", "po-1"),))
    item = Item(ITEM, "invoice", [one, rejection], rejection)
    assert decision.needs(SPEC, adaptive, item) == decision.Needs()


def test_a_control_item_is_judged_against_its_answer_before_the_item_is_due() -> None:
    golden = {"number": "PO-1", "total": "10"}
    first, second = keying(OTHER, 2, golden=golden), keying(RIGHT, 2, golden=golden)
    waiting, decided = walk(SPEC, QcPolicy(mode=QcMode.DOUBLE), [first, second])
    assert waiting.ruling is None
    (judging,) = waiting.judgings
    assert judging.golden
    assert judging.tallies() == {first.contractor_id: (2, 1)}
    assert decided.ruling is Ruling.ACCEPT
    assert [j.tallies() for j in decided.judgings] == [{second.contractor_id: (2, 2)}]
