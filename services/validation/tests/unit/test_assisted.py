"""Assisted QC: the machine keys first; a person confirming its confident values is two keyings
that agree; anything else is keyed again. The machine is judged like a keyer but keeps no
tally, and a keyer who keeps a wrong pre-fill is judged for it."""

from typing import Any

import pytest

from bpo_common.contracts import MACHINE_CONTRACTOR_ID, QcMode, QcPolicy
from bpo_common.contracts.intake import Suggested
from bpo_common.ids import new_id
from bpo_validation.domain import decision
from bpo_validation.domain.entries import Item
from bpo_validation.domain.fields import FieldVerdict
from bpo_validation.domain.verdicts import Ruling

from .walking import ITEM, ORDERS, SPEC, keying, review, walk

ASSISTED = QcPolicy(mode=QcMode.ASSISTED)
LAYOUT = new_id()


def shown(**values: tuple[Any, float] | tuple[Any, float, bool]) -> dict[str, Suggested]:
    return {
        name: Suggested(value=given[0], confidence=given[1], planted=len(given) > 2)
        for name, given in values.items()
    }


def assisted(data: dict[str, Any], suggestions: dict[str, Suggested], **facts: Any) -> Any:
    return keying(data, suggestions=suggestions, layout_id=LAYOUT, **facts)


def test_a_keyer_confirming_every_confident_value_settles_the_item_and_judges_the_machine() -> None:
    entry = assisted(
        {"number": "po-1", "total": "10"}, shown(number=("PO-1", 0.9), total=("10.00", 0.85))
    )
    (verdict,) = walk(SPEC, ASSISTED, [entry])
    assert (verdict.ruling, verdict.reason) == (
        Ruling.ACCEPT,
        "assisted: the keyer confirmed the machine's values on all 2 fields",
    )
    assert verdict.result == {"number": "PO-1", "total": "10.00"}
    (judging,) = verdict.judgings
    keyer, machine = judging.entries
    assert keyer.entry is entry
    assert machine.entry.contractor_id == MACHINE_CONTRACTOR_ID
    # It keys each item once: its task is the item.
    assert (machine.entry.task_id, machine.entry.layout_id) == (ITEM, LAYOUT)
    assert [v.correct for v in machine.fields] == [True, True]
    # The machine keeps no tally: it is judged, never suspended.
    assert set(judging.tallies()) == {entry.contractor_id}


@pytest.mark.parametrize(
    ("data", "suggestions", "why"),
    [
        ({"number": "PO-1", "total": "10"}, shown(number=("PO-1", 0.9)), "total"),
        ({"number": "PO-1", "total": "10"}, shown(number=("PO-1", 0.9), total=("10", 0.5)),
         "total"),
        ({"number": "PO-1", "total": "11"}, shown(number=("PO-1", 0.9), total=("10", 0.9)),
         "total"),
        ({"number": "PO-1", "total": "10"}, {}, "number, total"),
    ],
    ids=["not-suggested", "not-confident", "corrected", "no-pre-fill"],
)  # fmt: skip
def test_anything_short_of_confirming_confident_values_is_keyed_again(
    data: dict[str, Any], suggestions: dict[str, Suggested], why: str
) -> None:
    (verdict,) = walk(SPEC, ASSISTED, [assisted(data, suggestions)])
    assert (verdict.ruling, verdict.reason) == (
        Ruling.SECOND_KEYING,
        f"assisted: the machine's values were not confirmed on {why}",
    )
    assert verdict.judgings == ()


def test_after_a_second_keying_the_two_people_are_compared_as_in_double_keying() -> None:
    suggestions = shown(number=("PO-1", 0.9), total=("99", 0.9))
    first = assisted({"number": "PO-1", "total": "10"}, suggestions)
    second = assisted({"number": "PO-1", "total": "10"}, suggestions, expected=2)
    _, verdict = walk(SPEC, ASSISTED, [first, second])
    assert (verdict.ruling, verdict.reason) == (Ruling.ACCEPT, "2 keyings agree")
    (judging,) = verdict.judgings
    machine = judging.entries[-1]
    assert machine.entry.contractor_id == MACHINE_CONTRACTOR_ID
    # Wrong on the total: counted against the machine; the keyers who corrected it are right,
    # and each is on record as having corrected a wrong pre-fill.
    assert machine.fields == (
        FieldVerdict("number", True),
        FieldVerdict("total", False),
    )
    for keyer in judging.entries[:2]:
        assert keyer.fields == (
            FieldVerdict("number", True),
            FieldVerdict("total", True, accepted_wrong_prefill=False),
        )

    third = assisted({"number": "PO-1", "total": "99"}, suggestions, expected=2)
    _, differ = walk(SPEC, ASSISTED, [first, third])
    assert (differ.ruling, differ.reason) == (Ruling.ADJUDICATION, "keyings differ on total")
    (adjudicated,) = walk(
        SPEC, ASSISTED, [first, third, review({"number": "PO-1", "total": "10"})]
    )[2:]
    keyed = {j.entry.task_id: j.fields for j in adjudicated.judgings[0].entries}
    assert keyed[third.task_id][1] == FieldVerdict("total", False, accepted_wrong_prefill=True)


def test_a_planted_wrong_value_on_a_control_item_judges_the_keyer_and_never_the_machine() -> None:
    golden = {"number": "PO-1", "total": "10.00"}
    suggestions = shown(number=("PO-1", 0.9), total=("10.01", 0.95, True))
    clicked_through = assisted({"number": "PO-1", "total": "10.01"}, suggestions, golden=golden)
    (verdict,) = walk(SPEC, ASSISTED, [clicked_through])
    assert (verdict.ruling, verdict.reason) == (
        Ruling.ACCEPT,
        "control item: the known answer stands",
    )
    golden_judging, *_ = verdict.judgings
    keyer, machine = golden_judging.entries
    assert keyer.fields == (
        FieldVerdict("number", True),
        FieldVerdict("total", False, accepted_wrong_prefill=True),
    )
    # The planted value is not the machine's keying: it is judged on the number only.
    assert machine.fields == (FieldVerdict("number", True),)


def test_the_machine_is_judged_once_on_a_control_keyed_twice_whatever_order_they_come_in() -> None:
    golden = {"number": "PO-1", "total": "10.00"}
    suggestions = shown(number=("PO-1", 0.9), total=("10.00", 0.95))
    first, second = (assisted(golden, suggestions, golden=golden, expected=2) for _ in range(2))
    double = QcPolicy(mode=QcMode.DOUBLE)
    # The second keying's event is read first; the first's, read next, sorts before it.
    judged = 0
    for item in (
        Item(ITEM, "invoice", [second], second),
        Item(ITEM, "invoice", [first, second], first),
    ):
        needs = decision.needs(SPEC, double, item)
        verdict = decision.decide(
            SPEC,
            double,
            item,
            lookups={wanted: ORDERS[wanted] for wanted in needs.lookups},
            keyer=None,
            confirm_adjudications=True,
        )
        machine = MACHINE_CONTRACTOR_ID
        judged += sum(j.entry.contractor_id == machine for g in verdict.judgings for j in g.entries)
    assert judged == 1
