"""Accuracy as a contract, pure: keyers' posteriors, the crew's weight, items keyed twice
(whole or on the fields a keyer is weak on), and whole jobs ruled on item by item with
simulated keyers whose true accuracy is known."""

import math
import random
from dataclasses import dataclass, field, replace
from uuid import UUID

import pytest

from bpo_validation.domain.accuracy import (
    Delivered,
    Ledger,
    Trust,
    beliefs,
    both_wrong,
    crew_beliefs,
    doubtful,
    rule,
)
from bpo_validation.domain.crew import (
    MAX_STRENGTH,
    MIN_STRENGTH,
    UNKNOWN_PRIOR,
    Crew,
    Tally,
    posterior,
)
from bpo_validation.domain.partial import weak_fields

FIELDS = ["vendor", "number", "date", "net", "total"]


def _alike(keyers: int, judged: int, correct: int) -> Crew:
    return Crew({UUID(int=n): {"total": Tally(judged, correct)} for n in range(keyers)})


def test_a_keyer_nobody_judged_on_a_new_work_type_is_barely_trusted() -> None:
    belief = posterior(Crew({}), "total", {})
    assert belief.mean == pytest.approx(UNKNOWN_PRIOR)
    assert beliefs(FIELDS, Crew({}), {}).trust().p == pytest.approx(UNKNOWN_PRIOR ** len(FIELDS))


def test_the_crews_figure_weighs_as_much_as_its_keyers_are_alike() -> None:
    assert _alike(8, 1000, 990).strength == MAX_STRENGTH, "no spread beyond chance"
    apart = Crew({UUID(int=n): {"total": Tally(1000, 999 if n % 2 else 950)} for n in range(8)})
    assert MIN_STRENGTH <= apart.strength < 100
    assert replace(_alike(8, 1000, 990), most=MIN_STRENGTH).strength == MIN_STRENGTH
    # Alike: a lucky record hardly moves a keyer; apart: it does.
    lucky = {"total": Tally(200, 200)}
    assert posterior(_alike(8, 1000, 990), "total", lucky).mean < 0.992
    assert posterior(apart, "total", lucky).mean > 0.99


def test_two_keyings_end_wrong_only_where_both_erred_on_one_field() -> None:
    one = Trust(0.97, 0.0, ((0.02, 0.0), (0.01, 0.0)))
    other = Trust(0.95, 0.0, ((0.03, 0.0), (0.02, 0.0)))
    assert both_wrong(one, other).p == pytest.approx(1 - (0.02 * 0.03 + 0.01 * 0.02))


def test_keyed_again_on_some_fields_an_item_is_wrong_where_both_or_the_first_alone_erred() -> None:
    one = Trust(0.97, 0.0, ((0.02, 0.001), (0.01, 0.002)), ("number", "total"))
    other = Trust(0.95, 0.0, ((0.03, 0.0), (0.02, 0.0)), ("number", "total"))
    partly = both_wrong(one, other, ["total"])
    assert partly.p == pytest.approx(1 - (0.02 + 0.01 * 0.02))
    # The first keyer's doubt on the field keyed once is theirs; on the other, the crew's.
    assert (partly.sd, partly.shared) == pytest.approx((0.001, 0.02 * 0.002))
    assert both_wrong(one, other, ["number", "total"]) == both_wrong(one, other)
    # A table's cells are its field's: keyed again, the table is keyed again whole.
    cells = Trust(0.97, 0.0, ((0.02, 0.0), (0.01, 0.0)), ("lines.qty", "lines.sku"))
    assert both_wrong(cells, other, ["lines"]).p == pytest.approx(1 - (0.02 * 0.03 + 0.01 * 0.02))


def test_items_keyed_twice_in_part_count_as_ruled_for_they_rest_on_their_first_keyer() -> None:
    ledger = Ledger().add_partly(Trust(0.98, 0.01)).add_checked(Trust(0.9999, 0.0))
    assert (ledger.items, ledger.single) == (2, 0)
    assert Delivered.of(ledger).estimate == pytest.approx((0.98 + 0.9999) / 2)
    # What the crew's record says of two keyings does not say what the first keying alone is.
    assert ledger.rechecked(lambda _: Trust(0.99999, 0.0)).partly == ledger.partly


# Eight keyers alike at 99.5 % on each field of an invoice with lines.
NAMES = ["number", "total", "lines.sku", "lines.qty"]
ALIKE = Crew({UUID(int=n): {name: Tally(1000, 995) for name in NAMES} for n in range(8)})
GOOD = {name: Tally(500, 499) for name in NAMES}
WEAK_TOTAL = GOOD | {"total": Tally(500, 450)}


def test_a_field_is_weak_over_twice_the_crews_error_unless_the_keyer_is_weak_overall() -> None:
    assert weak_fields(beliefs(NAMES, ALIKE, WEAK_TOTAL).trust()) == ("total",)
    assert weak_fields(beliefs(NAMES, ALIKE, GOOD | {"lines.qty": Tally(500, 450)}).trust()) == (
        "lines",
    )
    # At the crew's error or under twice it on every field: nothing stands out.
    assert weak_fields(beliefs(NAMES, ALIKE, {}).trust()) == ()
    assert (
        weak_fields(beliefs(NAMES, ALIKE, {name: Tally(500, 493) for name in NAMES}).trust()) == ()
    )
    # Weak overall: on two of the three fields, or weak on one and not quite the crew elsewhere.
    two = WEAK_TOTAL | {"number": Tally(500, 450)}
    assert weak_fields(beliefs(NAMES, ALIKE, two).trust()) == ()
    middling = {name: Tally(500, 493) for name in NAMES} | {"total": Tally(500, 450)}
    assert weak_fields(beliefs(NAMES, ALIKE, middling).trust()) == ()
    assert weak_fields(Trust(0.9, 0.0, ((0.1, 0.0),))) == (), "no names, no fields to name"


def test_only_weak_fields_are_keyed_again_while_the_job_can_afford_the_rest_once() -> None:
    single, crew = beliefs(NAMES, ALIKE, WEAK_TOTAL).trust(), crew_beliefs(NAMES, ALIKE).trust()
    margin = Ledger()
    for _ in range(1000):
        margin = margin.add_checked(Trust(0.9999, 0.0))
    ruled = rule(margin, UUID(int=1), single, crew, 0.99)
    assert (ruled.again, ruled.only) == (True, ("total",))
    assert ruled.ledger == margin.add_partly(both_wrong(single, crew, ["total"]))
    assert ruled.reason == (
        "keyed again: the keyer's item accuracy 95.17% is under the crew's 98.01% and the "
        "target 99.00%; only total keyed again (the keyer's error rate there is over 2 times "
        "the crew's): with the rest keyed once the job's delivered accuracy stays at 99.911% "
        "or more"
    )
    # Without the margin, the rest keyed once would bring the job under its target.
    bare = rule(Ledger(), UUID(int=1), single, crew, 0.99)
    assert (bare.again, bare.only) == (True, ())
    assert bare.ledger == Ledger().add_checked(both_wrong(single, crew))


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
    refreshed = doubtful.refreshed({UUID(int=1): lambda _: sure})
    assert refreshed.bound(1.6449) == pytest.approx(many.bound(1.6449))
    shown = Delivered.of(many)
    assert shown.meets(0.98) is True
    assert shown.meets(0.99) is False, "0.99 expected is not 0.99 with 95 % confidence"
    assert Delivered.of(Ledger()).meets(0.99) is None
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low < 0.99 < shown.high


def test_a_jobs_first_rulings_spend_the_margin_of_all_its_items() -> None:
    """Held to the bound over the items ruled so far, a job's first items would each have to
    deliver the target alone, and a trusted keyer's first keyings would be keyed again."""
    crew = Trust(0.97, 0.001, ((0.006, 0.0),) * 5)
    strong = Trust(0.998, 0.0005, ((0.0004, 0.0001),) * 5)
    assert rule(Ledger(), UUID(int=1), strong, crew, 0.995).again, "size not known"
    first = rule(Ledger(size=3000), UUID(int=1), strong, crew, 0.995)
    assert not first.again
    assert first.ledger.size == 3000
    # Once every item is ruled, the bound is the ledger's own.
    whole = Ledger(size=3000)
    for _ in range(3000):
        whole = whole.add_single(UUID(int=1), strong)
    assert whole.bound(2.3263, whole.size) == whole.bound(2.3263)
    assert Ledger(size=10).add_single(UUID(int=1), strong).bound(2.3263, 10) > (
        Ledger().add_single(UUID(int=1), strong).bound(2.3263)
    )


def test_the_crews_figure_is_a_doubt_every_keyers_items_share() -> None:
    young, old = _alike(8, 100, 99), _alike(8, 10000, 9900)
    assert (
        beliefs(["total"], young, {}).trust().shared
        > beliefs(["total"], old, {}).trust().shared
        > 0
    )
    # A keyer's own long record leans less on the crew's figure.
    regular = {"total": Tally(5000, 4950)}
    assert (
        beliefs(["total"], young, regular).trust().shared
        < beliefs(["total"], young, {}).trust().shared
    )
    assert beliefs(["total"], Crew({}), {}).trust().shared == 0, (
        "no record: the prior's spread is all"
    )
    # Two keyers' items, each carried alone: their shared doubts add up, not in quadrature.
    leaning = Trust(0.99, 0.0, shared=0.01)
    two = Ledger().add_single(UUID(int=1), leaning).add_single(UUID(int=2), leaning)
    assert two.bound(1.0) == pytest.approx((1.98 - math.sqrt(2 * 0.99 * 0.01 + 0.02**2)) / 2)


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
    # Keyer number (from 1) -> field -> the keyer's accuracy on it, where not as `accuracies`.
    fields: dict[int, dict[str, float]] = field(default_factory=dict)
    judged: dict[UUID, dict[str, list[int]]] = field(default_factory=dict)
    carried: dict[UUID, int] = field(default_factory=dict)
    # Items keyed again on some fields only, by first keyer.
    partly: dict[UUID, int] = field(default_factory=dict)

    def run(self) -> tuple[float, float, Delivered]:
        """(the share of items right, keyings per item, the estimate shown at the end)."""
        chance = random.Random(self.seed)
        keyers = [UUID(int=n + 1) for n in range(len(self.accuracies))]
        per_field = {
            keyer: dict.fromkeys(FIELDS, accuracy ** (1 / len(FIELDS)))
            | self.fields.get(keyer.int, {})
            for keyer, accuracy in zip(keyers, self.accuracies, strict=True)
        }
        self.judged = {keyer: {name: [0, 0] for name in FIELDS} for keyer in keyers}
        self.carried = dict.fromkeys(keyers, 0)
        self.partly = dict.fromkeys(keyers, 0)
        ledger, keyings, right = Ledger(size=self.items), 0, 0
        for n in range(self.items):
            first = keyers[n % len(keyers)]
            crew = self._crew()
            single = beliefs(FIELDS, crew, self._own(first)).trust()
            ruled = rule(ledger, first, single, crew_beliefs(FIELDS, crew).trust(), self.target)
            ledger, keyings = ruled.ledger, keyings + 1
            erred = {name for name in FIELDS if chance.random() > per_field[first][name]}
            if not ruled.again:
                self.carried[first] += 1
                right += not erred
                continue
            second = keyers[(n + 1 + chance.randrange(len(keyers) - 1)) % len(keyers)]
            keyings += 1
            # A partial second keying keys (and judges) its fields only; the first's others stand.
            rekeyed = [name for name in FIELDS if not ruled.only or name in ruled.only]
            self.partly[first] += bool(ruled.only)
            also = {name for name in rekeyed if chance.random() > per_field[second][name]}
            right += not (erred & also or erred - set(rekeyed))
            for keyer, wrong in ((first, erred), (second, also)):
                for name in rekeyed:
                    self.judged[keyer][name][0] += 1
                    self.judged[keyer][name][1] += name not in wrong
        light = replace(self._crew(), most=MIN_STRENGTH)
        now = {keyer: beliefs(FIELDS, light, self._own(keyer)).trust for keyer in keyers}
        return right / self.items, keyings / self.items, Delivered.of(ledger.refreshed(now))

    def _own(self, keyer: UUID) -> dict[str, Tally]:
        return {name: Tally(*tally) for name, tally in self.judged[keyer].items()}

    def _crew(self) -> Crew:
        return Crew({keyer: self._own(keyer) for keyer in self.judged})


def test_keyers_all_at_97_percent_deliver_99_percent_at_under_1_8_keyings() -> None:
    """Over eight jobs: the target is a 95 % promise held at 99 % (domain.accuracy.Z_DECIDE),
    so a job may miss it, rarely. The estimate shown is less sure of itself than it should be
    on a crew of keyers alike: the keyers trusted alone are those whose record looks best,
    and the same record values their items (a known weakness)."""
    runs = [_Job([0.97] * 8, 0.99, seed=seed).run() for seed in range(1, 9)]
    assert sum(delivered < 0.99 for delivered, _, _ in runs) <= 1
    assert sum(keyings for _, keyings, _ in runs) / len(runs) <= 1.8
    held = [
        shown.low is not None and shown.high is not None and shown.low <= delivered <= shown.high
        for delivered, _, shown in runs
    ]
    assert sum(held) >= 5


@pytest.mark.parametrize("seed", [1, 3])
def test_a_keyer_weak_on_one_field_has_it_keyed_again_alone_and_the_job_keeps_its_target(
    seed: int,
) -> None:
    job = _Job([0.99] * 8, 0.99, seed=seed, fields={8: {"total": 0.95}})
    delivered, _, shown = job.run()
    weak = UUID(int=8)
    assert job.carried[weak] == 0
    assert job.partly[weak] > 100, "most of the weak keyer's items: the total only"
    assert delivered >= 0.99
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high


@pytest.mark.parametrize("seed", [1, 2])
def test_one_bad_apple_never_keys_alone_and_the_job_keeps_its_target(seed: int) -> None:
    job = _Job([0.995] * 7 + [0.80], 0.995, seed=seed)
    delivered, _, shown = job.run()
    assert job.carried[UUID(int=8)] == 0
    assert job.partly[UUID(int=8)] == 0, "weak overall: keyed again whole"
    assert delivered >= 0.995
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high


def test_a_mixed_crew_keys_the_weak_half_twice_and_the_strong_half_alone() -> None:
    """Each keyer first-keys an eighth of the items here, so 1.5 keyings an item is the floor;
    a crew prior of one group kept the strong half's clean records near the crew's middle and
    keyed 1.84 times an item (the crew as two groups: domain.crew)."""
    job = _Job([0.998, 0.95] * 4, 0.995)
    delivered, keyings, shown = job.run()
    weak = [UUID(int=n) for n in (2, 4, 6, 8)]
    # Of their 1,500 first keyings, one at most while the crew could not tell them apart yet.
    assert sum(job.carried[keyer] for keyer in weak) <= 1
    assert min(job.carried[UUID(int=n)] for n in (1, 3, 5, 7)) > 250, "of 375 first keyings"
    assert delivered >= 0.995
    assert keyings < 1.65
    assert shown.low is not None
    assert shown.high is not None
    assert shown.low <= delivered <= shown.high


def test_the_interval_of_a_poor_small_ledger_is_as_wide_above_as_the_estimate_allows() -> None:
    # Three items at 40 % each, very doubtful: the lower end is cut at 0, the upper is not
    # pulled in with it.
    ledger = Ledger()
    for _ in range(3):
        ledger = ledger.add_single(UUID(int=1), Trust(0.4, 0.2))
    shown = Delivered.of(ledger)
    margin = ledger.margin(1.96)
    assert margin > 0.4
    assert shown.low == 0.0
    assert shown.high == pytest.approx(min(1.0, 0.4 + margin))
    assert (shown.high or 0) > 0.8
