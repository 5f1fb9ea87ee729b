"""Keeping score: the quality floor and how each task on a final item came out."""

import pytest

from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_validation.domain.scoring import accuracy, suspension, task_outcome


@pytest.mark.parametrize(
    ("judged", "correct", "suspended", "reason"),
    [
        (6, 1, False, "accuracy 16.7% over 6 judged fields, below the 75% floor"),
        (6, 1, True, None),
        (5, 0, False, None),
        (8, 6, False, None),
    ],
    ids=["below-the-floor", "already-suspended", "too-few-judged", "at-the-floor"],
)
def test_a_keyer_below_the_floor_over_enough_fields_is_suspended_once(
    judged: int, correct: int, suspended: bool, reason: str | None
) -> None:
    assert suspension(judged, correct, suspended=suspended, floor=0.75, min_judged=6) == reason


@pytest.mark.parametrize(
    ("kind", "judged", "correct", "rejected", "outcome"),
    [
        (TaskKind.ENTRY, 3, 3, False, TaskOutcome.ACCEPTED),
        (TaskKind.ENTRY, 0, 0, False, TaskOutcome.ACCEPTED),
        (TaskKind.ENTRY, 2, 1, False, TaskOutcome.OVERTURNED),
        (TaskKind.ENTRY, 2, 2, True, TaskOutcome.REJECTED),
        (TaskKind.REVIEW, 0, 0, True, TaskOutcome.ACCEPTED),
        (TaskKind.ADJUDICATION, 0, 0, False, TaskOutcome.ACCEPTED),
    ],
)
def test_a_keying_stands_when_all_its_judged_fields_were_right_and_a_final_word_always(
    kind: TaskKind, judged: int, correct: int, rejected: bool, outcome: TaskOutcome
) -> None:
    assert task_outcome(kind, judged, correct, rejected=rejected) is outcome


def test_accuracy_is_none_before_anything_is_judged() -> None:
    assert (accuracy(0, 0), accuracy(1, 4)) == (None, 0.25)
