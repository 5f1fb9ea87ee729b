"""What a keyer's accuracy on a field is believed to be: a Beta posterior whose prior is the
crew's on that work type, updated by the keyer's own judged fields (empirical Bayes).

The prior weighs as many judged fields as the crew's keyers' differences say: a crew whose
keyers differ little beyond chance lets a keyer's own luck move their figure little, so that
the keyers picked to key alone are not merely the lucky ones.

A crew may also be two crews: keyers who differ in kind, not by degrees (careful ones and
careless ones). One Beta fitted to such a crew centres every keyer on a middle nobody is at
and reads a careful keyer's clean record as luck. So the keyers' records (judged fields and
errors) are also fitted as two groups of keyers alike (a mixture of two binomials), which is
taken when it makes the records far likelier than one group does (`TWO_GROUPS_MARGIN`): each
group then has its own prior (its chance of an error, on each field the crew's on it scaled
by the group's overall against the crew's; its weight from how much its own keyers differ),
and a keyer's prior is the two mixed by how likely the keyer's whole record
is under each: a long record settles which group they are of, a newcomer is of each by its
share of the crew (a wide prior). A crew of keyers alike, or spread without a gap, stays one
group.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from uuid import UUID

# How many judged fields the crew's accuracy weighs in a keyer's posterior: from how much the
# crew's keyers differ (empirical Bayes), within these bounds.
MIN_STRENGTH = 20.0
MAX_STRENGTH = 1000.0
# The prior where the crew has no judged field on a work type yet: little trust, little
# weight; the first items of a new work type are keyed twice.
UNKNOWN_PRIOR = 0.9
UNKNOWN_STRENGTH = 2.0
# How much likelier (natural log) the keyers' records must be as two groups' than as one's for
# the crew to be taken as two: e^8, about 3,000 times. Keyers alike reach it by chance about
# once in a thousand crews; a crew of two groups whose error rates differ tenfold, within a few
# hundred judged fields a keyer.
TWO_GROUPS_MARGIN = 8.0
# The fewest keyers with judged fields a crew is fitted as two groups from.
TWO_GROUPS_KEYERS = 4
# The fit stops once no keyer's chance of being of a group moves by more than SETTLED.
FIT_ROUNDS = 200
SETTLED = 1e-6


@dataclass(frozen=True)
class Tally:
    """Judged fields, and how many of them were right: a float, for a provisional judgement
    of keyings that differ counts as half an error (repository.accuracy)."""

    judged: int
    correct: float

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.judged + other.judged, self.correct + other.correct)

    @property
    def error(self) -> float:
        """The share of fields wrong, never quite 0 or 1: a crew that never erred still
        leaves room for doubt."""
        return 1 - (self.correct + 0.5) / (self.judged + 1)


@dataclass(frozen=True)
class Beta:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> float:
        total = self.alpha + self.beta
        return self.alpha * self.beta / (total * total * (total + 1))

    def updated(self, own: Tally) -> "Beta":
        return Beta(self.alpha + own.correct, self.beta + own.judged - own.correct)


@dataclass(frozen=True)
class Group:
    """Keyers alike: their share of the crew, their chance of an error on a judged field
    against the crew's (`scale`), how many judged fields their figure weighs, and how
    many errors that scale was read from (`wrong`; none for a crew of one group, whose
    scale is 1 by definition)."""

    share: float
    error: float
    scale: float
    strength: float
    wrong: float = math.inf

    def likelihood(self, record: Tally) -> float:
        """How likely a keyer of this group is to have this record (natural log, less a term
        alike for every group): the group's share times a beta-binomial."""
        a, b = self.error * self.strength, (1 - self.error) * self.strength
        wrong = record.judged - record.correct
        return (
            math.log(self.share)
            + math.lgamma(wrong + a)
            + math.lgamma(record.correct + b)
            - math.lgamma(record.judged + self.strength)
            - math.lgamma(a)
            - math.lgamma(b)
            + math.lgamma(self.strength)
        )


@dataclass(frozen=True)
class Crew:
    """The crew's recent judged fields on a work type, by keyer and field."""

    by_keyer: Mapping[UUID, Mapping[str, Tally]]
    # The most the crew's figure may weigh: MAX_STRENGTH to decide; MIN_STRENGTH to
    # estimate what a job delivered, once each keyer's own record is large enough to stand
    # (a heavy prior would pull a keyer much better or worse than the crew to its mean).
    most: float = MAX_STRENGTH

    @cached_property
    def by_field(self) -> dict[str, Tally]:
        judged: dict[str, Tally] = {}
        for fields in self.by_keyer.values():
            for name, tally in fields.items():
                judged[name] = judged.get(name, Tally(0, 0)) + tally
        return judged

    @cached_property
    def records(self) -> list[Tally]:
        """Each keyer's judged fields, all fields together (keyers judged on none aside)."""
        return [record for fields in self.by_keyer.values() if (record := total(fields)).judged]

    @cached_property
    def strength(self) -> float:
        """How many judged fields the crew's accuracy weighs against a keyer's own, taken as
        one group."""
        return _strength(self.records, [1.0] * len(self.records), self.most)

    @cached_property
    def groups(self) -> tuple[Group, ...]:
        """The crew as one group, or as two (the careful first) where its records say so."""
        crew = sum(self.records, Tally(0, 0)).error
        split = _two_groups(self.records)
        if split is None:
            return (Group(1.0, crew, 1.0, self.strength),)
        groups = []
        for weights in (split, [1 - weight for weight in split]):
            error = _error(self.records, weights)
            # A group found in the records is held alike only as far as its keyers' records
            # can tell: no further than the judged fields each has, on average.
            judged = sum(w * record.judged for w, record in zip(weights, self.records, strict=True))
            strength = min(_strength(self.records, weights, self.most), judged / sum(weights))
            wrong = sum(
                w * (record.judged - record.correct)
                for w, record in zip(weights, self.records, strict=True)
            )
            share = sum(weights) / len(weights)
            groups.append(Group(share, error, error / crew, strength, wrong))
        return tuple(groups)

    def prior(self, group: Group, name: str) -> Beta:
        """A keyer of this group's accuracy on a field before their own record: the crew's on
        it, its chance of an error scaled as the group's is against the crew's."""
        mean = 1 - min(0.5, self.by_field[name].error * group.scale)
        return Beta(mean * group.strength, (1 - mean) * group.strength)


def total(fields: Mapping[str, Tally]) -> Tally:
    return sum(fields.values(), Tally(0, 0))


def posterior(crew: Crew, name: str, own: Mapping[str, Tally]) -> Beta:
    """A keyer's accuracy on a field: the crew's as prior (the groups' by how likely the
    keyer's whole record `own` is under each), their own judged fields on it on top."""
    tally = own.get(name, Tally(0, 0))
    record = crew.by_field.get(name)
    if record is None or record.judged == 0:
        unknown = Beta(UNKNOWN_PRIOR * UNKNOWN_STRENGTH, (1 - UNKNOWN_PRIOR) * UNKNOWN_STRENGTH)
        return unknown.updated(tally)
    groups = crew.groups
    if len(groups) == 1:
        return crew.prior(groups[0], name).updated(tally)
    return _matched(_of_groups(crew, own), [crew.prior(g, name).updated(tally) for g in groups])


def shared(crew: Crew, name: str, own: Mapping[str, Tally]) -> float:
    """How unsure a keyer's chance of an error on a field is through the crew's figure, the
    prior's mean, itself estimated from the crew's judged fields: that figure's sd (from the
    errors the crew made on the field and, for a group, the errors its scale was read
    from: a careful group's few), times the weight the prior has against the keyer's own
    judged fields. It errs alike for every keyer of the crew (none where the crew has no
    record: the unknown prior's spread is the posterior's own)."""
    record = crew.by_field.get(name)
    if record is None or record.judged == 0:
        return 0.0
    wrong = record.judged - record.correct
    judged = own.get(name, Tally(0, 0)).judged
    groups = crew.groups
    weights = _of_groups(crew, own) if len(groups) > 1 else [1.0]
    return sum(
        weight
        * min(0.5, record.error * group.scale)
        * math.sqrt(1 / (wrong + 1) + 1 / (group.wrong + 1))
        * group.strength
        / (group.strength + judged)
        for weight, group in zip(weights, groups, strict=True)
    )


def _of_groups(crew: Crew, own: Mapping[str, Tally]) -> list[float]:
    """The keyer's chance of being of each of the crew's groups, from their whole record."""
    keyer = total(own)
    return _normalised([group.likelihood(keyer) for group in crew.groups])


def _normalised(logs: Sequence[float]) -> list[float]:
    """Probabilities in proportion to these (natural log) likelihoods."""
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    return [weight / sum(weights) for weight in weights]


def _matched(weights: Sequence[float], beliefs: Sequence[Beta]) -> Beta:
    """The Beta with the mean and variance of a mixture of Betas."""
    pairs = list(zip(weights, beliefs, strict=True))
    mean = sum(weight * belief.mean for weight, belief in pairs)
    second = sum(weight * (belief.variance + belief.mean**2) for weight, belief in pairs)
    variance = max(second - mean * mean, 1e-18)
    strength = max(mean * (1 - mean) / variance - 1, 1e-9)
    return Beta(mean * strength, (1 - mean) * strength)


def _strength(records: Sequence[Tally], weights: Sequence[float], most: float) -> float:
    """How many judged fields a group's accuracy weighs against a keyer's own: the less its
    keyers (each counted at its weight) differ beyond what chance explains, the more (method
    of moments on each keyer's share of fields right), within MIN_STRENGTH and `most`."""
    shares = [
        (weight * record.judged, record.correct / record.judged)
        for record, weight in zip(records, weights, strict=True)
    ]
    keyers = sum(weights)
    judged = sum(n for n, _ in shares)
    if keyers < 2 or not judged:
        return min(most, MIN_STRENGTH)
    mean = sum(n * share for n, share in shares) / judged
    observed = sum(n * (share - mean) ** 2 for n, share in shares) / judged
    chance = mean * (1 - mean) * (keyers - 1) / judged
    spread = observed - chance
    if spread <= 0:
        return most
    return min(most, max(MIN_STRENGTH, mean * (1 - mean) / spread - 1))


def _two_groups(records: Sequence[Tally]) -> list[float] | None:
    """Each keyer's chance of being of the more careful of two groups of keyers alike (a
    mixture of two binomials fitted by expectation-maximisation), where it makes the records
    likelier than one group does by TWO_GROUPS_MARGIN; None where not."""
    crew = sum(records, Tally(0, 0))
    if len(records) < TWO_GROUPS_KEYERS or crew.correct == crew.judged:
        return None
    one = sum(_binomial(record, crew.error) for record in records)
    # No two groups can beat each keyer a group of their own.
    if sum(_binomial(record, record.error) for record in records) - one < TWO_GROUPS_MARGIN:
        return None
    # From the keyers under the crew's share of fields wrong against the others.
    weights = [float(record.error < crew.error) for record in records]
    two = one
    for _ in range(FIT_ROUNDS):
        share = min(max(sum(weights) / len(weights), 1e-6), 1 - 1e-6)
        careful = _error(records, weights)
        careless = _error(records, [1 - weight for weight in weights])
        likelihoods = [
            (
                math.log(share) + _binomial(record, careful),
                math.log(1 - share) + _binomial(record, careless),
            )
            for record in records
        ]
        was, weights = weights, [_normalised(pair)[0] for pair in likelihoods]
        two = sum(_log_sum(pair) for pair in likelihoods)
        if max(abs(new - old) for new, old in zip(weights, was, strict=True)) < SETTLED:
            break
    return weights if two - one >= TWO_GROUPS_MARGIN else None


def _error(records: Sequence[Tally], weights: Sequence[float]) -> float:
    """The share of fields wrong of keyers each counted at its weight (never quite 0 or 1)."""
    pairs = list(zip(records, weights, strict=True))
    judged = sum(weight * record.judged for record, weight in pairs)
    wrong = sum(weight * (record.judged - record.correct) for record, weight in pairs)
    return (wrong + 0.5) / (judged + 1)


def _binomial(record: Tally, error: float) -> float:
    """A record's log-likelihood at this chance of an error (less its binomial term)."""
    wrong = record.judged - record.correct
    return wrong * math.log(error) + record.correct * math.log(1 - error)


def _log_sum(logs: Sequence[float]) -> float:
    top = max(logs)
    return top + math.log(sum(math.exp(value - top) for value in logs))
