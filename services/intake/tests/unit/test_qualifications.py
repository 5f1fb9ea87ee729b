"""How a qualification attempt ends once its last copy is judged."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bpo_intake.domain.qualifications import AttemptOutcome, finish

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("right", "items", "mark", "outcome"),
    [
        (9, 10, "0.9", AttemptOutcome.PASSED),  # exactly the mark passes
        (8, 10, "0.9", AttemptOutcome.FAILED),
        (3, 3, "1", AttemptOutcome.PASSED),
        (2, 3, "1", AttemptOutcome.FAILED),
        (2, 3, "0.66", AttemptOutcome.PASSED),
        (2, 3, "0.67", AttemptOutcome.FAILED),
    ],
)
def test_an_attempt_passes_at_the_mark_and_fails_below_it(
    right: int, items: int, mark: str, outcome: AttemptOutcome
) -> None:
    assert finish(right, items, Decimal(mark), 24, NOW).outcome is outcome


def test_a_failed_attempt_may_be_tried_again_after_the_delay() -> None:
    assert finish(1, 2, Decimal("0.9"), 36, NOW).retry_at == NOW + timedelta(hours=36)
    assert finish(2, 2, Decimal("0.9"), 36, NOW).retry_at is None
