"""A consumer's retries: the delay doubles up to a minute, and an event may be delivered
thousands of times (one that waits a day for its job) without the arithmetic failing."""

import pytest

from bpo_common.inbox import MAX_NAK_DELAY_S, retry_delay_s, waited_s


def test_the_delay_doubles_from_the_backoff_up_to_a_minute() -> None:
    assert [retry_delay_s(0.5, n) for n in (1, 2, 3, 8, 9)] == [0.5, 1.0, 2.0, 60.0, 60.0]
    assert waited_s(0.5, 4) == pytest.approx(0.5 + 1.0 + 2.0)


def test_an_event_delivered_thousands_of_times_waits_a_minute_between_and_its_wait_adds_up() -> (
    None
):
    assert retry_delay_s(0.5, 1025) == retry_delay_s(0.001, 100_000) == MAX_NAK_DELAY_S
    # A day's wait (BPO_CONSUMER_WAIT_S) is over at the 1,447th delivery: it ends.
    assert waited_s(0.5, 1447) >= 86_400.0 > waited_s(0.5, 1446)
