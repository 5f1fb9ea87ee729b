"""The crew's prior, pure: one group for keyers alike, two for a crew of two kinds, and a
keyer placed in a group by their whole record."""

import random
from uuid import UUID

import pytest

from bpo_validation.domain.accuracy import beliefs
from bpo_validation.domain.crew import MAX_STRENGTH, Crew, Tally, posterior, shared

FIELDS = ["vendor", "number", "date", "net", "total"]


def _keyer(judged: int, field_error: float, chance: random.Random) -> dict[str, Tally]:
    """A keyer's record: `judged` fields of each name, each wrong at `field_error`."""
    return {
        name: Tally(judged, sum(chance.random() >= field_error for _ in range(judged)))
        for name in FIELDS
    }


def _crew(*keyers: dict[str, Tally]) -> Crew:
    return Crew({UUID(int=n + 1): fields for n, fields in enumerate(keyers)})


def _field_error(item_accuracy: float) -> float:
    return 1 - float(item_accuracy ** (1 / len(FIELDS)))


def _two_kinds(chance: random.Random) -> Crew:
    """Four careful keyers (99.8 % an item) with 300 judged fields each, four careless ones
    (95 %) with 800."""
    return _crew(
        *(_keyer(300, _field_error(0.998), chance) for _ in range(4)),
        *(_keyer(800, _field_error(0.95), chance) for _ in range(4)),
    )


def test_a_crew_of_two_kinds_is_two_groups_and_a_clean_record_reads_as_careful() -> None:
    chance = random.Random(5)
    crew = _two_kinds(chance)
    first, second = crew.groups
    assert first.share == pytest.approx(0.5, abs=0.01)
    assert first.error < 0.002 < 0.007 < second.error
    clean = {name: Tally(300, 300) for name in FIELDS}
    # One group would put them near the crew's middle: 98.6 % an item.
    assert beliefs(FIELDS, crew, clean).trust().p > 0.997
    assert beliefs(FIELDS, crew, _keyer(800, _field_error(0.95), chance)).trust().p < 0.96
    newcomer = beliefs(FIELDS, crew, {}).trust()
    assert newcomer.sd > 0.01, "of either kind, as far as anyone knows"


def test_a_careful_groups_figure_read_from_few_errors_is_an_unsure_one() -> None:
    """A careful keyer's prior is the crew's figure scaled by their group's few errors: the
    doubt they share with their group is that of those errors, not of the crew's many."""
    crew = _two_kinds(random.Random(5))
    first, second = crew.groups
    assert first.wrong < second.wrong
    newcomer = {name: Tally(20, 20) for name in FIELDS}
    pooled = crew.by_field["total"]
    alone = first.scale * pooled.error * (1 / (pooled.judged - pooled.correct + 1)) ** 0.5
    assert shared(crew, "total", newcomer) > 2 * alone * first.strength / (first.strength + 20)


def test_keyers_alike_stay_one_group_whatever_their_luck() -> None:
    chance = random.Random(11)
    error = _field_error(0.97)
    split = 0
    for _ in range(100):
        crew = _crew(*(_keyer(400, error, chance) for _ in range(8)))
        split += len(crew.groups) > 1
    assert split <= 1


def test_one_group_is_the_crews_figure_weighed_by_how_alike_its_keyers_are() -> None:
    alike = _crew(*({"total": Tally(1000, 990)} for _ in range(8)))
    (group,) = alike.groups
    assert (group.share, group.scale, group.strength) == (1.0, 1.0, MAX_STRENGTH)
    lucky = {"total": Tally(200, 200)}
    belief = posterior(alike, "total", lucky)
    assert belief.alpha == pytest.approx(MAX_STRENGTH * 7920.5 / 8001 + 200)


def test_a_bad_apple_is_a_group_of_its_own_and_the_others_are_judged_as_alike() -> None:
    chance = random.Random(3)
    crew = _crew(
        *(_keyer(400, _field_error(0.995), chance) for _ in range(7)),
        _keyer(1200, _field_error(0.80), chance),
    )
    good, bad = crew.groups
    assert good.share == pytest.approx(7 / 8, abs=0.01)
    assert good.strength == MAX_STRENGTH
    assert bad.error > 0.03
    assert beliefs(FIELDS, crew, crew.by_keyer[UUID(int=8)]).trust().p < 0.85


def test_a_group_weighs_no_more_judged_fields_than_its_keyers_have_each() -> None:
    """Early in a crew's first job: keyers alike on little evidence are held alike no further
    than their records can tell."""
    chance = random.Random(8)
    crew = _crew(
        *(_keyer(12, _field_error(0.995), chance) for _ in range(7)),
        _keyer(200, _field_error(0.80), chance),
    )
    good, _ = crew.groups
    assert good.strength == pytest.approx(60)
    assert beliefs(FIELDS, crew, crew.by_keyer[UUID(int=1)]).trust().sd > 0.005
