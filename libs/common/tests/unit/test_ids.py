"""Ids made at a time given, and samples of ids: deterministic, at their rate, and with a
secret key not the plain one."""

from datetime import UTC, datetime
from decimal import Decimal

from bpo_common.ids import made_at, new_id, new_sample_key, sampled

HALF = Decimal("0.5")


def test_a_keyed_sample_keeps_its_rate_and_cannot_be_told_from_the_plain_one() -> None:
    ids = [new_id() for _ in range(4000)]  # one burst: their low bits count up
    key = new_sample_key()
    plain = {id_ for id_ in ids if sampled(id_, HALF)}
    keyed = {id_ for id_ in ids if sampled(id_, HALF, key)}
    assert 1800 < len(plain) < 2200
    assert 1800 < len(keyed) < 2200
    # Whoever computes the plain sample guesses the keyed one no better than a coin does.
    assert 0.4 < len(plain & keyed) / len(keyed) < 0.6
    assert keyed == {id_ for id_ in ids if sampled(id_, HALF, key)}, "the same every time"
    other = {id_ for id_ in ids if sampled(id_, HALF, new_sample_key())}
    assert 0.4 < len(other & keyed) / len(keyed) < 0.6, "another key, another sample"


def test_no_id_is_in_a_sample_of_rate_0_and_every_id_in_one_of_rate_1() -> None:
    key = new_sample_key()
    ids = [new_id() for _ in range(200)]
    assert not any(sampled(id_, Decimal(0), key) for id_ in ids)
    assert all(sampled(id_, Decimal(1), key) for id_ in ids)


def test_an_id_made_at_a_time_given_carries_it_and_ids_made_at_one_time_are_all_different() -> None:
    earlier = datetime(2021, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    ids = [new_id(at=earlier) for _ in range(10000)]
    assert {made_at(id_) for id_ in ids} == {earlier.replace(microsecond=123000)}
    assert len(set(ids)) == len(ids)
    assert all(id_.version == 7 for id_ in ids)
    assert made_at(new_id()) > earlier, "made now, it carries now"
