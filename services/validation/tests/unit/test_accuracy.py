"""Accuracy as a contract, pure: keyers' posteriors, the crew's weight, items keyed twice,
and whole jobs ruled on item by item with simulated keyers whose true accuracy is known."""

import random
from dataclasses import dataclass, field, replace
from uuid import UUID

import pytest

from bpo_validation.domain.accuracy import (
    MAX_STRENGTH,
    MIN_STRENGTH,
    UNKNOWN_PRIOR,
    Crew,
    Delivered,
    Ledger,
    Tally,
    Trust,
    both_wrong,
    crew_trust,
    doubtful,
    posterior,
    rule,
    trust,
)

FIELDS = ["vendor", "number", "date", "net", "total"]


def _alike(keyers: int, judged: int, correct: int) -> Crew:
    return Crew({UUID(int=n): {"total": Tally(judged, correct)} for n in range(keyers)})


def test_a_keyer_nobody_judged_on_a_new_work_type_is_barely_trusted() -> None:
    belief = posterior(Crew({}), "total", None)
    assert belief.mean == pytest.approx(UNKNOWN_PRIOR)
    assert trust(FIELDS, Crew({}), {}).p == pytest.approx(UNKNOWN_PRIOR ** len(FIELDS))


def test_the_crews_figure_weighs_as_much_as_its_keyers_are_alike() -> None:
    assert _alike(8, 1000, 990).strength == MAX_STRENGTH, "no spread beyond chance"
    apart = Crew({UUID(int=n): {"total": Tally(1000, 999 if n % 2 else 950)} for n in range(8)})
    assert MIN_STRENGTH <= apart.strength < 100
    assert replace(_alike(8, 1000, 990), most=MIN_STRENGTH).strength == MIN_STRENGTH
    # Alike: a lucky record hardly moves a keyer; apart: it does.
    lucky = Tally(200, 200)
    assert posterior(_alike(8, 1000, 990), "total", lucky).mean < 0.992
    assert posterior(apart, "total", lucky).mean > 0.99


def test_two_keyings_end_wrong_only_where_both_erred_on_one_field() -> None:
    one = Trust(0.97, 0.0, ((0.02, 0.0), (0.01, 0.0)))
    other = Trust(0.95, 0.0, ((0.03, 0.0), (0.02, 0.0)))
    assert both_wrong(one, other).p == pytest.approx(1 - (0.02 * 0.03 + 0.01 * 0.02))


def test_the_ledgers_bound_tightens_with_items_and_widens_with_a_keyers_doubt() -> None:
    sure, unsure = Trust(0.99, 0.0), Trust(0.99, 0.01)
    few, many = Ledger(), Ledger()
    for _ in range(10):
        few = few.add_single(UUID(int=1), sure)
    for _ in range(1000):
        many = many.add_single(UUID(int=1), sure)
    assert few.bound(1.6449) < many.bound(1.6449) < 0.99
    doubtful = Ledger()
    for _ in range(1000):
        doubtful = doubtful.add_single(UUID(int=1), unsure)
    # A keyer's doubt errs the same way on all their items: it does not average out.
    assert doubtful.bound(1.6449) < many.bound(1.6449) - 0.01
    refreshed = doubtful.refreshed({UUID(int=1): sure})
    assert refreshed.bound(1.6449) == pytest.approx(many.bound(1.6449))
    shown = Delivered.of(many)
    assert shown.meets(0.98) is True
    assert shown.meets(0.99) is False, "0.99 expected is not 0.99 with 95 % confidence"
    assert Delivered.of(Ledger()).meets(0.99) is None
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low < 0.99 < shown.high


def test_a_keyer_below_the_target_and_the_crew_never_keys_alone() -> None:
    margin = Ledger()
    for _ in range(1000):
        margin = margin.add_checked(Trust(0.9999, 0.0))
    crew = Trust(0.97, 0.001, ((0.006, 0.0),) * 5)
    weak = Trust(0.90, 0.001, ((0.02, 0.0),) * 5)
    assert rule(margin, UUID(int=1), weak, crew, 0.95).again
    assert not rule(margin, UUID(int=2), crew, crew, 0.95).again


def test_a_keyer_becomes_doubtful_well_below_the_crew_and_stops_at_its_figure() -> None:
    crew = 0.97
    assert not doubtful(False, 0.96, crew), "within half the crew's error rate"
    assert doubtful(False, 0.95, crew)
    assert doubtful(True, 0.965, crew), "doubtful until back at the crew's figure"
    assert not doubtful(True, 0.971, crew)


@dataclass
class _Job:
    """A job of `items` items keyed by simulated keyers (each item's first keying by the next
    keyer in turn, a second by another at random), ruled on as validation does; a keying errs
    on each field at random, and an item keyed twice ends wrong only where both keyings erred
    on the same field. The truth is known, so what the job delivered is too."""

    accuracies: list[float]
    target: float
    items: int = 3000
    seed: int = 1
    judged: dict[UUID, dict[str, list[int]]] = field(default_factory=dict)
    carried: dict[UUID, int] = field(default_factory=dict)

    def run(self) -> tuple[float, float, Delivered]:
        """(the share of items right, keyings per item, the estimate shown at the end)."""
        chance = random.Random(self.seed)
        keyers = [UUID(int=n + 1) for n in range(len(self.accuracies))]
        per_field = {
            keyer: accuracy ** (1 / len(FIELDS))
            for keyer, accuracy in zip(keyers, self.accuracies, strict=True)
        }
        self.judged = {keyer: {name: [0, 0] for name in FIELDS} for keyer in keyers}
        self.carried = dict.fromkeys(keyers, 0)
        ledger, keyings, right = Ledger(), 0, 0
        for n in range(self.items):
            first = keyers[n % len(keyers)]
            crew = self._crew()
            single = trust(FIELDS, crew, self._own(first))
            ruled = rule(ledger, first, single, crew_trust(FIELDS, crew), self.target)
            ledger, keyings = ruled.ledger, keyings + 1
            erred = {name for name in FIELDS if chance.random() > per_field[first]}
            if not ruled.again:
                self.carried[first] += 1
                right += not erred
                continue
            second = keyers[(n + 1 + chance.randrange(len(keyers) - 1)) % len(keyers)]
            keyings += 1
            also = {name for name in FIELDS if chance.random() > per_field[second]}
            right += not erred & also
            for keyer, wrong in ((first, erred), (second, also)):
                for name in FIELDS:
                    self.judged[keyer][name][0] += 1
                    self.judged[keyer][name][1] += name not in wrong
        light = replace(self._crew(), most=MIN_STRENGTH)
        now = {keyer: trust(FIELDS, light, self._own(keyer)) for keyer in keyers}
        return right / self.items, keyings / self.items, Delivered.of(ledger.refreshed(now))

    def _own(self, keyer: UUID) -> dict[str, Tally]:
        return {name: Tally(*tally) for name, tally in self.judged[keyer].items()}

    def _crew(self) -> Crew:
        return Crew({keyer: self._own(keyer) for keyer in self.judged})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_keyers_all_at_97_percent_deliver_99_percent_at_under_1_8_keyings(seed: int) -> None:
    job = _Job([0.97] * 8, 0.99, seed=seed)
    delivered, keyings, shown = job.run()
    assert delivered >= 0.99
    assert keyings <= 1.8
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high


@pytest.mark.parametrize("seed", [1, 2])
def test_one_bad_apple_never_keys_alone_and_the_job_keeps_its_target(seed: int) -> None:
    job = _Job([0.995] * 7 + [0.80], 0.995, seed=seed)
    delivered, _, shown = job.run()
    assert job.carried[UUID(int=8)] == 0
    assert delivered >= 0.995
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high


def test_a_mixed_crew_keys_the_weak_half_twice_and_the_strong_half_alone() -> None:
    job = _Job([0.998, 0.95] * 4, 0.995)
    delivered, keyings, shown = job.run()
    weak = [UUID(int=n) for n in (2, 4, 6, 8)]
    assert sum(job.carried[keyer] for keyer in weak) == 0
    assert delivered >= 0.995
    assert keyings < 2.0
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high
