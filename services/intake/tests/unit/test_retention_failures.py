"""Retention passes over a job whose erasure failed for RETRY_FAILED_AFTER, then tries it
again."""

from datetime import timedelta

from bpo_common.clock import utcnow
from bpo_common.ids import new_id
from bpo_intake.domain.erasure import RETRY_FAILED_AFTER, RetentionFailures


def test_a_failed_job_is_passed_over_until_a_day_has_gone_then_tried_again() -> None:
    failures = RetentionFailures()
    first, later = new_id(), new_id()
    now = utcnow()
    failures.failed(first, now)
    failures.failed(later, now + timedelta(hours=12))

    assert failures.passed_over(now + timedelta(hours=1)) == {first, later}
    assert failures.passed_over(now + RETRY_FAILED_AFTER) == {later}
    assert failures.failed_at == {later: now + timedelta(hours=12)}, "the tried forgotten"
    failures.failed(later, now + RETRY_FAILED_AFTER)
    assert failures.passed_over(now + RETRY_FAILED_AFTER + timedelta(hours=13)) == {later}
