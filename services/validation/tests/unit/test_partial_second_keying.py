"""Adaptive QC keys again only the fields a keyer is weak on, where the job can afford the
rest keyed once: the second keying is compared on those fields, the first keying's others
stand, and the keyings are judged on those fields only."""

from decimal import Decimal
from uuid import UUID

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_validation.domain.accuracy import (
    KeyerAccuracy,
    Ledger,
    Share,
    Trust,
    beliefs,
    both_wrong,
    crew_beliefs,
)
from bpo_validation.domain.crew import Crew, Tally
from bpo_validation.domain.entries import Submission
from bpo_validation.domain.fields import FieldVerdict
from bpo_validation.domain.reference import LookupResult, Wanted
from bpo_validation.domain.verdicts import Ruling

from .walking import ORDERS, REVIEWER, SPEC, keying, review, walk

ADAPTIVE = QcPolicy(mode=QcMode.ADAPTIVE, target_accuracy=Decimal("0.95"))
# Eight keyers alike; the first keyer better on the number, ten times as wrong on the total.
CREW = Crew(
    {UUID(int=n): {"number": Tally(2500, 2488), "total": Tally(2500, 2488)} for n in range(8)}
)
MARGIN = Ledger()
for _ in range(200):
    MARGIN = MARGIN.add_checked(Trust(0.9999, 0.0001))
WEAK_ON_TOTAL = KeyerAccuracy(
    {"number": Tally(4000, 3996), "total": Tally(1000, 900)}, CREW, MARGIN
)
FIRST = {"number": "po-1", "total": "10"}
NAMES = ["number", "total"]
RIGHT = [FieldVerdict("total", True)]


def _again(total: str) -> Submission:
    """The second keying adaptive QC asked for: the total only."""
    return keying({"total": total}, 2, keyed_fields=("total",))


def test_a_keyer_weak_on_one_field_has_only_that_field_keyed_again() -> None:
    (verdict,) = walk(SPEC, ADAPTIVE, [keying(FIRST)], keyer=WEAK_ON_TOTAL)
    assert (verdict.ruling, verdict.rekey) == (Ruling.SECOND_KEYING, ("total",))
    assert verdict.reason == (
        "keyed again: the keyer's item accuracy 94.59% is under the crew's 99.04% and the "
        "target 95.00%; only total keyed again (the keyer's error rate there is over 2 times "
        "the crew's): with the rest keyed once the job's delivered accuracy stays at 99.872% "
        "or more"
    )
    assert (verdict.result, verdict.judgings) == (None, ())
    # The item counts as keyed twice on the total and once on the number.
    single, crew = (
        beliefs(NAMES, CREW, WEAK_ON_TOTAL.own).trust(),
        crew_beliefs(NAMES, CREW).trust(),
    )
    partly = both_wrong(single, crew, ["total"])
    assert verdict.ledger is not None
    assert verdict.ledger.partly == Share().add(partly)
    assert verdict.ledger.checked.items == MARGIN.items
    assert partly.p < both_wrong(single, crew).p, "the number's error counts as keyed once"


def test_a_keyer_good_on_every_field_is_keyed_again_whole() -> None:
    proven = KeyerAccuracy({"number": Tally(4000, 3996), "total": Tally(4000, 3996)}, CREW)
    (verdict,) = walk(SPEC, ADAPTIVE.model_copy(update={"target_accuracy": Decimal("0.995")}),
                      [keying(FIRST)], keyer=proven)  # fmt: skip
    assert (verdict.ruling, verdict.rekey) == (Ruling.SECOND_KEYING, ())


def test_a_partial_second_keying_that_agrees_is_accepted_with_the_first_keyings_other_fields(
) -> None:  # fmt: skip
    first, second = keying(FIRST), _again("10.00")
    _, verdict = walk(SPEC, ADAPTIVE, [first, second], keyer=WEAK_ON_TOTAL)
    assert (verdict.ruling, verdict.reason) == (
        Ruling.ACCEPT,
        "2 keyings agree on total, the first keying's other fields standing",
    )
    assert verdict.result == {"number": "PO-1", "total": "10.00"}
    assert [row["field"] for row in verdict.comparison if row["equal"]] == ["number", "total"]
    # Both keyings judged on the total alone: the number was keyed once.
    (judging,) = verdict.judgings
    assert [(j.entry.task_id, list(j.fields)) for j in judging.entries] == [
        (first.task_id, RIGHT),
        (second.task_id, RIGHT),
    ]


def test_a_partial_second_keying_that_differs_goes_to_adjudication_on_the_whole_item() -> None:
    first, second = keying(FIRST), _again("11")
    _, verdict = walk(SPEC, ADAPTIVE, [first, second], keyer=WEAK_ON_TOTAL)
    assert (verdict.ruling, verdict.reason) == (Ruling.ADJUDICATION, "keyings differ on total")
    assert verdict.result is None
    # Shown whole: the second keying with the first keying's number.
    assert [(shown.task_id, shown.data) for shown in verdict.shown] == [
        (first.task_id, FIRST),
        (second.task_id, {"number": "po-1", "total": "11"}),
    ]
    assert [(row["field"], row["equal"]) for row in verdict.comparison] == [
        ("number", True),
        ("total", False),
    ]
    # Judged against each other meanwhile, on the field keyed again only.
    (provisional,) = verdict.provisional
    wrong = [FieldVerdict("total", False)]
    assert [(j.entry.task_id, list(j.fields)) for j in provisional.entries] == [
        (first.task_id, wrong),
        (second.task_id, wrong),
    ]

    steps = [first, second, review({"number": "PO-1", "total": "10"}, TaskKind.ADJUDICATION)]
    *_, final = walk(SPEC, ADAPTIVE, steps, keyer=WEAK_ON_TOTAL)
    assert (final.ruling, final.reason) == (Ruling.ACCEPT, f"adjudication by {REVIEWER} is final")
    (judging,) = final.judgings
    assert [(j.entry.task_id, list(j.fields)) for j in judging.entries] == [
        (first.task_id, RIGHT),
        (second.task_id, [FieldVerdict("total", False)]),
    ]


def test_an_adjudicator_who_changes_a_field_nobody_keyed_again_is_confirmed() -> None:
    steps = [
        keying(FIRST),
        _again("11"),
        review({"number": "PO-2", "total": "10"}, TaskKind.ADJUDICATION),
    ]
    found = {**ORDERS, Wanted("orders", "po-2"): LookupResult(True, None)}
    *_, asked = walk(SPEC, ADAPTIVE, steps, found=found, keyer=WEAK_ON_TOTAL)
    assert (asked.ruling, asked.reason) == (
        Ruling.ADJUDICATION,
        "the adjudicator's number agrees with no keying; a second adjudicator decides",
    )
