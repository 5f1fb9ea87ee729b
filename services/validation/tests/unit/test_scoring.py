"""Keeping score: the quality floor on a recent window, reactivation, how each task on a
final item came out, and the share of a job's fields a partial keying keyed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_validation.domain.scoring import (
    Window,
    accuracy,
    keyed_share,
    reactivation_applies,
    suspension,
    task_outcome,
)

ONE_RIGHT_OF_SIX = (
    "accuracy 16.6% over the last 6 judged fields on invoice is below the floor 75.0%"
)


@pytest.mark.parametrize(
    ("judged", "correct", "suspended", "reason"),
    [
        (6, 1, False, ONE_RIGHT_OF_SIX),
        (6, 1, True, None),
        (5, 0, False, None),
        (8, 6, False, None),
    ],
    ids=["below-the-floor", "already-suspended", "too-few-judged", "at-the-floor"],
)
def test_a_keyer_below_the_floor_over_enough_recent_fields_is_suspended_unless_already(
    judged: int, correct: int, suspended: bool, reason: str | None
) -> None:
    window = Window(judged, correct)
    assert suspension("invoice", window, suspended=suspended, floor=0.75, min_judged=6) == reason


def test_the_reason_names_the_work_type_and_the_figures() -> None:
    reason = suspension("invoice", Window(200, 156), suspended=False, floor=0.85, min_judged=50)
    assert reason == (
        "accuracy 78.0% over the last 200 judged fields on invoice is below the floor 85.0%"
    )


def test_an_accuracy_just_under_the_floor_is_said_under_it() -> None:
    reason = suspension("invoice", Window(133, 113), suspended=False, floor=0.85, min_judged=50)
    assert reason == (
        "accuracy 84.9% over the last 133 judged fields on invoice is below the floor 85.0%"
    )


def test_the_window_holds_only_the_latest_judged_fields() -> None:
    # Oldest first: eight wrong, then twelve right.
    fields = [False] * 8 + [True] * 12
    assert Window.latest(fields, 10) == Window(10, 10)
    assert Window.latest(fields, 16) == Window(16, 12)
    assert Window.latest(fields, 200) == Window(20, 12)
    assert Window.latest([], 200) == Window(0, 0)


def test_old_errors_leave_the_window_and_with_them_the_suspension() -> None:
    """A keyer bad long ago and good since is not suspended; the same errors recent are."""
    bad_then_good = [False] * 100 + [True] * 200
    good_then_bad = [True] * 200 + [False] * 100

    def reason(fields: list[bool]) -> str | None:
        window = Window.latest(fields, 200)
        return suspension("invoice", window, suspended=False, floor=0.85, min_judged=50)

    assert reason(bad_then_good) is None
    assert reason(good_then_bad) == (
        "accuracy 50.0% over the last 200 judged fields on invoice is below the floor 85.0%"
    )


NOON = datetime(2026, 12, 5, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("suspended_at", "last_reactivated_at", "applies"),
    [
        (NOON - HOUR, None, True),
        (None, None, True),
        (NOON - HOUR, NOON - 2 * HOUR, True),
        (NOON + HOUR, None, False),
        (None, NOON + HOUR, False),
        (None, NOON, False),
    ],
    ids=[
        "suspended-before",
        "never-suspended",
        "reactivated-before-too",
        "suspended-after-it",
        "a-later-reactivation-applied",
        "the-same-reactivation-again",
    ],
)
def test_a_reactivation_clears_a_suspension_made_before_it_only(
    suspended_at: datetime | None, last_reactivated_at: datetime | None, applies: bool
) -> None:
    assert (
        reactivation_applies(
            NOON, suspended_at=suspended_at, last_reactivated_at=last_reactivated_at
        )
        is applies
    )


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


@pytest.mark.parametrize(
    ("keyed", "fields", "share"),
    [(0, 5, "1"), (5, 5, "1"), (1, 5, "0.2"), (2, 3, "0.6667"), (1, 3, "0.3333"), (1, 0, "1")],
)
def test_a_partial_keying_keyed_its_share_of_the_jobs_fields_to_four_places(
    keyed: int, fields: int, share: str
) -> None:
    assert keyed_share(keyed, fields) == Decimal(share)


def test_a_keying_that_marked_a_keyed_item_unreadable_is_overturned_but_not_when_rejected() -> None:
    assert task_outcome(TaskKind.ENTRY, 0, 0, rejected=False, unreadable=True) is (
        TaskOutcome.OVERTURNED
    )
    assert task_outcome(TaskKind.ENTRY, 0, 0, rejected=True, unreadable=True) is (
        TaskOutcome.REJECTED
    )
