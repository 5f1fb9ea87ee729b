"""What the process spends on scrypt: token requests counted per address (an IPv6 host by its
/64) and per key before a secret is checked, and no more runs at once than allowed."""

import asyncio
import threading
import time

import pytest

from bpo_common.ratelimit import TooManyRequests
from bpo_intake.service.api_keys import SecretChecks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_no_more_runs_than_allowed_go_at_once_and_the_others_wait_their_turn() -> None:
    checks = SecretChecks(attempts=0, window_s=60, at_once=2)
    running, peak, guard = 0, 0, threading.Lock()

    def scrypt_like() -> None:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with guard:
            running -= 1

    async def check() -> None:
        async with checks.slot():
            await asyncio.to_thread(scrypt_like)

    await asyncio.gather(*(check() for _ in range(8)))
    assert peak == 2


def test_a_limit_of_zero_counts_nothing() -> None:
    checks = SecretChecks(attempts=0, window_s=60, at_once=1)
    for _ in range(100):
        checks.admit("198.51.100.1")


def test_requests_past_the_limit_refuse_the_address_saying_when_to_retry() -> None:
    clock = Clock()
    checks = SecretChecks(attempts=2, window_s=60, at_once=1, clock=clock)
    checks.admit("198.51.100.1")
    checks.admit("198.51.100.1")
    checks.admit("198.51.100.2")  # another address counts apart
    with pytest.raises(TooManyRequests) as refused:
        checks.admit("198.51.100.1")
    assert refused.value.detail == (
        "too many token requests that got no token from this address: 2 every 60 s on this "
        "server; retry in 30 s, with the key's id and secret as they were given"
    )
    assert refused.value.headers == {
        "Retry-After": "30",
        "RateLimit-Policy": '"token-address";q=2;w=60',
        "RateLimit": '"token-address";r=0;t=30',
    }
    clock.now += 30
    checks.admit("198.51.100.1")


def test_a_request_that_got_a_token_is_given_its_count_back() -> None:
    checks = SecretChecks(attempts=1, window_s=60, at_once=1)
    for _ in range(10):
        checks.admit(None)
        checks.granted(None)
    checks.admit(None)
    with pytest.raises(TooManyRequests, match="from this address"):
        checks.admit(None)
