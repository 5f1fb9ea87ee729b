"""The rate limiter's arithmetic (GCRA), on a clock the tests move: bursts, waits, costs,
and whose quota a token spends."""

from uuid import UUID

import pytest

from bpo_common.auth import Principal, Role
from bpo_common.ids import new_id
from bpo_common.ratelimit import Meter, Quota, RateLimiter, TooManyRequests, caller_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def quota(per_minute: int, clock: Clock) -> Quota:
    return Quota("requests", per_minute, "", "requests", clock)


def test_a_burst_of_the_whole_quota_goes_through_and_the_next_waits_as_retry_after_says() -> None:
    clock = Clock()
    per_minute = quota(3, clock)

    verdicts = [per_minute.take("client:a", 1) for _ in range(3)]
    assert [(v.allowed, v.remaining) for v in verdicts] == [(True, 2), (True, 1), (True, 0)]

    refused = per_minute.take("client:a", 1)
    # One request comes free every 20 s.
    assert (refused.allowed, refused.remaining, refused.retry_after_s) == (False, 0, 20)
    assert refused.reset_s == 20

    clock.now += refused.retry_after_s - 1
    assert not per_minute.take("client:a", 1).allowed, "not a second before Retry-After"
    clock.now += 1
    assert per_minute.take("client:a", 1).allowed
    assert not per_minute.take("client:a", 1).allowed


def test_a_refused_request_spends_nothing() -> None:
    clock = Clock()
    per_minute = quota(2, clock)
    per_minute.take("contractor:x", 2)
    for _ in range(10):
        assert not per_minute.take("contractor:x", 1).allowed
    clock.now += 30
    assert per_minute.take("contractor:x", 1).allowed


def test_one_callers_burst_leaves_the_others_quota_whole() -> None:
    clock = Clock()
    per_minute = quota(5, clock)
    assert per_minute.take("api-key:1", 5).allowed
    assert not per_minute.take("api-key:1", 1).allowed
    for other in ("api-key:2", "client:a", "contractor:x"):
        assert per_minute.take(other, 1).remaining == 4


def test_a_charge_of_n_spends_n_and_a_quota_comes_back_at_its_rate() -> None:
    clock = Clock()
    items = Quota("items", 600, "items", "items", clock)  # ten a second
    assert items.take("client:a", 250).remaining == 350
    assert not items.take("client:a", 351).allowed
    assert items.take("client:a", 350).remaining == 0
    clock.now += 6
    assert items.take("client:a", 60).allowed
    assert not items.take("client:a", 1).allowed


def test_a_charge_larger_than_the_quota_goes_through_only_when_nothing_is_owed() -> None:
    clock = Clock()
    megabyte = Quota("bytes", 1_000_000, "content-bytes", "bytes", clock)
    assert megabyte.take("client:a", 1).allowed
    refused = megabyte.take("client:a", 3_000_000)
    assert not refused.allowed
    assert refused.retry_after_s == 1, "until what is owed is paid off"

    clock.now += 1
    assert megabyte.take("client:a", 3_000_000).allowed, "once nothing is owed"
    paying_off = megabyte.take("client:a", 1)
    # Three minutes of quota spent at once: two are paid off before the next byte.
    assert (paying_off.allowed, paying_off.retry_after_s) == (False, 121)


def test_a_quota_of_a_rate_that_is_no_round_number_still_lets_its_whole_burst_go() -> None:
    clock = Clock()
    per_minute = quota(7, clock)
    assert all(per_minute.take("client:a", 1).allowed for _ in range(7))
    assert not per_minute.take("client:a", 1).allowed


def test_a_quota_over_a_longer_window_lets_its_burst_go_then_refills_evenly() -> None:
    clock = Clock()
    ten_minutes = Quota("attempts", 3, "", "attempts", clock, window_s=600)
    assert ten_minutes.policy == '"attempts";q=3;w=600'
    assert [ten_minutes.take("a", 1).remaining for _ in range(3)] == [2, 1, 0]
    refused = ten_minutes.take("a", 1)
    assert (refused.allowed, refused.retry_after_s, refused.reset_s) == (False, 200, 200)
    clock.now += 199
    assert not ten_minutes.take("a", 1).allowed
    clock.now += 1
    assert ten_minutes.take("a", 1).allowed


def test_callers_who_owe_nothing_are_forgotten_when_there_are_many() -> None:
    clock = Clock()
    per_minute = Quota("requests", 60, "", "requests", clock, max_callers=10)
    for number in range(11):
        per_minute.take(f"client:old-{number}", 1)
    clock.now += 2
    for number in range(12):
        per_minute.take(f"client:new-{number}", 1)
    assert sorted(per_minute._paid_off_at) == sorted(f"client:new-{n}" for n in range(12))


def test_an_api_key_spends_its_own_quota_a_client_token_its_companys_a_manager_none() -> None:
    client_id = new_id()
    key = Principal("api-key:0193", Role.CLIENT, client_id)
    person = Principal("someone", Role.CLIENT, client_id)
    assert caller_of(key) == "api-key:0193"
    assert caller_of(person) == f"client:{client_id}"
    assert caller_of(Principal("0195", Role.CONTRACTOR)) == "contractor:0195"
    assert caller_of(Principal("alice", Role.MANAGER)) is None


def test_the_policy_names_each_quota_that_is_on_and_0_turns_one_off() -> None:
    limiter = RateLimiter(requests_per_minute=100, items_per_minute=0, bytes_per_minute=5000)
    assert limiter.policy == '"requests";q=100;w=60, "bytes";q=5000;qu="content-bytes";w=60'
    assert limiter.items is None
    off = RateLimiter(requests_per_minute=0, items_per_minute=0, bytes_per_minute=0)
    assert not off.enabled


def test_items_past_the_quota_are_a_429_naming_the_wait_and_the_answer_says_what_is_left() -> None:
    clock = Clock()
    limiter = RateLimiter(
        requests_per_minute=10, items_per_minute=60, bytes_per_minute=0, clock=clock
    )
    caller = f"client:{UUID(int=1)}"
    meter = Meter(limiter, caller)
    assert limiter.requests is not None
    meter.take(limiter.requests, 1)
    meter.count_items(59)
    assert meter.headers()["RateLimit"] == '"requests";r=9;t=6, "items";r=1;t=1'
    with pytest.raises(TooManyRequests) as refused:
        Meter(limiter, caller).count_items(2)
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "1"}
    assert refused.value.detail == (
        "this client may send 60 items a minute on this server; retry in 1 s"
    )


def test_a_request_charged_a_piece_at_a_time_is_judged_as_one_charge_of_them_all() -> None:
    clock = Clock()
    limiter = RateLimiter(
        requests_per_minute=0, items_per_minute=10, bytes_per_minute=0, clock=clock
    )
    caller = f"client:{UUID(int=2)}"
    streamed = Meter(limiter, caller)
    for _ in range(3):  # fifteen items in three pieces, nothing owed as the request starts
        streamed.count_items(5)
    assert streamed.headers()["RateLimit"] == '"items";r=0;t=36'

    # The next request starts owing 90 s: refused at once, or as it reads past the quota.
    with pytest.raises(TooManyRequests):
        Meter(limiter, caller).count_items(1)
    clock.now += 85
    owing = Meter(limiter, caller)
    owing.count_items(5)
    with pytest.raises(TooManyRequests) as refused:
        owing.count_items(5)
    assert refused.value.headers == {"Retry-After": "35"}, "until all it owes is paid off"
    clock.now += 35
    fresh = Meter(limiter, caller)
    for _ in range(3):
        fresh.count_items(5)


def test_requests_started_side_by_side_owing_nothing_do_not_each_go_past_the_quota() -> None:
    clock = Clock()
    limiter = RateLimiter(
        requests_per_minute=0, items_per_minute=10, bytes_per_minute=0, clock=clock
    )
    caller = f"client:{UUID(int=3)}"
    first = Meter(limiter, caller)
    first.count_items(1)  # paid off in 6 s
    clock.now += 7
    second = Meter(limiter, caller)
    second.count_items(1)  # nothing owed as it starts either

    # What the caller owes is no longer the first request's alone: past the quota it is
    # refused, told to wait until the second's item is paid off.
    with pytest.raises(TooManyRequests) as refused:
        first.count_items(20)
    assert refused.value.headers == {"Retry-After": "6"}
    assert refused.value.detail == (
        "this client may send 10 items a minute on this server; retry in 6 s"
    )
    # The second owes only what it spent itself: one large request still goes through.
    for _ in range(4):
        second.count_items(5)
    assert second.headers()["RateLimit"] == '"items";r=0;t=72'
    with pytest.raises(TooManyRequests):
        first.count_items(1)
