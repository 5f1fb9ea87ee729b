"""Accuracy as a contract: what a keyer's single keying is worth, and whether the job, item by
item, still delivers its target with 95 % confidence.

A keyer's accuracy on a field of a work type is a Beta posterior whose prior is the crew's
(domain.crew), updated by the keyer's own recent judged fields (second keyings, control
items, reviews and adjudications judge them). A single keying's chance of making the whole
item right is the product of its fields' posterior means (errors on fields taken as
independent), a table column's raised to the item's rows (each cell is judged on its own),
with an uncertainty from the posteriors' spread (delta method).

The job's ledger adds up, for every item adaptive QC ruled on, its chance of being right:
a single keying's trust, or, for an item keyed twice (the two keyings compared, a person
settling any difference), the chance that both keyings erred on the same field, counted as
wrong. The job delivers its target with 95 % confidence while the ledger's one-sided lower
bound stays at or above it: the spread of the items' outcomes (Bernoulli), plus each
keyer's parameter uncertainty, which errs the same way on every item that keyer carried
alone (so it grows with their number of items, not its square root), and that of the
crew's figure, which every keyer's rests on (so it errs alike across keyers). After a
first keying, a second is asked for exactly when accepting the first alone would bring that
bound, taken at 99 % to leave a margin (`Z_DECIDE`) and over the job's items received
(`Ledger.size`: the items still to rule taken to go as those ruled), under the target:
items keyed twice build the margin that the single keyings of trusted keyers then spend,
and a keyer below both the target and the crew never spends it. Each ruling values the
items keyed twice, and the ruled keyer's own single keyings, at what is known now.

A second keying may cover only the fields the keyer is weak on (domain.partial), when the
job, counting the item as keyed twice on those and once on the rest (`both_wrong` with
`rekeyed`), still passes the test a single keying passes.
"""

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from uuid import UUID

from bpo_validation.domain.crew import Beta, Crew, Tally, posterior, shared
from bpo_validation.domain.fields import Rows, field_of
from bpo_validation.domain.partial import WEAK_FACTOR, weak_fields

# One-sided 95 % (the promise: a job's end figures) and two-sided 95 % (the interval shown).
Z_ONE_SIDED = 1.6449
Z_TWO_SIDED = 1.9600
# What a ruling holds the job's bound to: one-sided 99 %, a margin beyond the 95 % the job
# promises. Rulings spend the margin down to the bound, so at the job's end what it
# delivered falls under the bound about as often as the bound's one-sided share; the job's
# end figures (`Delivered`, at 95 %) weigh each keyer's own record more than the rulings do;
# and the keyers trusted alone are those whose record reads best, which values them a little
# high. On a crew all at 97 % and a target of 99 %, 99 % costs about 0.02 keyings an item
# against 97.5 % (over a run-to-run spread of about 0.03); at 97.5 %, 2 of 6 measured jobs
# of that crew delivered under their target in the QC bench, at 99 % none of 6.
DECIDE_CONFIDENCE = 0.99
Z_DECIDE = 2.3263


@dataclass(frozen=True)
class Trust:
    """A keying's chance of making its item right, how unsure that figure is, and, field by
    field (the judged names in `names`, in the same order), its chance of an error with that
    chance's sd, and the crew's chance of an error (its prior: a newcomer's); `shared`: how
    unsure the figure is through the crew's (domain.crew.shared), beyond `sd`; `cells`: each
    name's cells in the item (a table column's: its rows; none: one each), of its `rows`."""

    p: float
    sd: float
    errors: tuple[tuple[float, float], ...] = ()
    names: tuple[str, ...] = ()
    crew_errors: tuple[float, ...] = ()
    shared: float = 0.0
    cells: tuple[int, ...] = ()
    rows: Rows = ()


# What a keying (or keyings) of an item with these rows is worth.
Valuation = Callable[[Rows], Trust]


@dataclass(frozen=True)
class Beliefs:
    """A keyer's accuracy judged name by judged name: its posterior, how unsure it is through
    the crew's figure (domain.crew.shared), and the crew's chance of an error (the keyer's
    prior). Read once, they value a keying of an item of any rows (`trust`)."""

    names: tuple[str, ...]
    posteriors: tuple[Beta, ...]
    shared: tuple[float, ...]
    crew_errors: tuple[float, ...]

    def trust(self, rows: Rows = ()) -> Trust:
        """A single keying of an item whose tables have `rows`: right only if every field
        and every cell is, so a column's chance counts once a row (a table not in `rows`
        once: as the ledger's items kept before their rows were)."""
        p, relative_variance, relative_shared, errors, cells = 1.0, 0.0, 0.0, [], []
        sizes = dict(rows)
        for name, belief, doubt in zip(self.names, self.posteriors, self.shared, strict=True):
            n = sizes.get(field_of(name), 1)
            p *= belief.mean**n
            relative_variance += n * n * belief.variance / (belief.mean * belief.mean)
            relative_shared += (n * doubt / belief.mean) ** 2
            errors.append((1 - belief.mean, math.sqrt(belief.variance)))
            cells.append(n)
        return Trust(
            p,
            p * math.sqrt(relative_variance),
            tuple(errors),
            self.names,
            self.crew_errors,
            p * math.sqrt(relative_shared),
            tuple(cells),
            rows,
        )

    def twice(self, rows: Rows = ()) -> Trust:
        """Two keyings of an item whose tables have `rows`, each at these beliefs."""
        return both_wrong(self.trust(rows), self.trust(rows))


def beliefs(fields: Iterable[str], crew: Crew, own: Mapping[str, Tally]) -> Beliefs:
    """A keyer's, on these (judged) fields: those of them the crew was ever judged on (a field
    no answer ever gave, an optional one, does not count), all of them on a work type nobody
    was judged on yet."""
    names = tuple(_judged(fields, crew.by_field))
    return Beliefs(
        names,
        tuple(posterior(crew, name, own) for name in names),
        tuple(shared(crew, name, own) for name in names),
        tuple(1 - posterior(crew, name, {}).mean for name in names),
    )


def crew_beliefs(fields: Iterable[str], crew: Crew) -> Beliefs:
    """The crew's at large: its whole record, precise with its size."""
    return beliefs(_judged(fields, crew.by_field), Crew({}), crew.by_field)


def _judged(fields: Iterable[str], judged: Mapping[str, Tally]) -> list[str]:
    names = list(fields)
    return [name for name in names if name in judged] or names


def both_wrong(first: Trust, second: Trust, rekeyed: Collection[str] = ()) -> Trust:
    """An item keyed twice: the keyings are compared field by field (a table cell by cell)
    and a person settles each difference, so it ends wrong only where both keyings erred on
    the same field or cell (taken to be the same error, which makes the figure a floor): the
    chances of that added up over the fields and every cell of the first keying's rows.

    Keyed twice on the fields `rekeyed` only (a partial second keying; a table's cells are
    its field's), it also ends wrong wherever the first keying erred on another field: those
    count as in a single keying (added up: a floor too).

    The doubt on the fields keyed twice goes in `shared` (it errs with the crew's figure,
    which the second keying's is; the first keyer's own part counted there too, which only
    widens the bound); on those keyed once, the first keyer's own doubt goes in `sd` (their
    keying's part through the crew's figure is not split by field, and is left out). A
    column's cells err alike, so their doubts add up, not in quadrature."""
    pairs = list(zip(first.errors, second.errors, strict=True))
    twice = [field_of(name) in rekeyed for name in first.names] if rekeyed else [True] * len(pairs)
    cells = first.cells or (1,) * len(pairs)
    missed, common, own = 0.0, 0.0, 0.0
    for both, n, ((one, sd_one), (other, sd_other)) in zip(twice, cells, pairs, strict=True):
        if both:
            missed += n * one * other
            common += n * n * ((other * sd_one) ** 2 + (one * sd_other) ** 2)
        else:
            missed += n * one
            own += n * n * sd_one**2
    return Trust(max(0.0, 1 - missed), math.sqrt(own), shared=math.sqrt(common), rows=first.rows)


@dataclass(frozen=True)
class Share:
    """Items counted alike in a ledger: how many, the sum of their chances of being right
    and of their outcomes' variances, and the sums of their chances' parameter sds (which err
    the same way on every one of them) and, apart from those, of their doubts through the
    crew's figure (`shared`: which err alike on every share); `sizes`: how many of them have
    each tables' rows (Trust.rows), which valuing them again reads."""

    items: int = 0
    expected: float = 0.0
    variance: float = 0.0
    sd: float = 0.0
    shared: float = 0.0
    sizes: Mapping[Rows, int] = field(default_factory=dict)

    def add(self, item: Trust) -> "Share":
        return Share(
            self.items + 1,
            self.expected + item.p,
            self.variance + item.p * (1 - item.p),
            self.sd + item.sd,
            self.shared + item.shared,
            {**self.sizes, item.rows: self.sizes.get(item.rows, 0) + 1},
        )

    def at(self, value: Valuation) -> "Share":
        """These items, each at what `value` says an item of its rows is worth."""
        trusts = [(n, value(rows)) for rows, n in self.sizes.items()]
        return Share(
            self.items,
            sum(n * trust.p for n, trust in trusts),
            sum(n * trust.p * (1 - trust.p) for n, trust in trusts),
            sum(n * trust.sd for n, trust in trusts),
            sum(n * trust.shared for n, trust in trusts),
            self.sizes,
        )


@dataclass(frozen=True)
class Ledger:
    """What a job's items ruled on so far are expected to deliver: those each keyer carried
    alone, those keyed twice (which rest on the crew's accuracy), and those keyed twice on
    some fields only (`partly`: as ruled, for they rest on their first keyer's too)."""

    carried: Mapping[UUID, Share] = field(default_factory=dict)
    checked: Share = Share()
    partly: Share = Share()
    # The job's items as far as known (those received; 0: not known): what rulings hold the
    # bound over (`bound`'s `over`).
    size: int = 0

    @property
    def shares(self) -> list[Share]:
        return [self.checked, self.partly, *self.carried.values()]

    @property
    def items(self) -> int:
        return sum(share.items for share in self.shares)

    @property
    def single(self) -> int:
        """Items accepted from one keying."""
        return sum(share.items for share in self.carried.values())

    def add_single(self, keyer: UUID, single: Trust) -> "Ledger":
        carried = dict(self.carried)
        carried[keyer] = carried.get(keyer, Share()).add(single)
        return replace(self, carried=carried)

    def add_checked(self, double: Trust) -> "Ledger":
        return replace(self, checked=self.checked.add(double))

    def add_partly(self, partial: Trust) -> "Ledger":
        return replace(self, partly=self.partly.add(partial))

    def refreshed(self, trusts: Mapping[UUID, Valuation]) -> "Ledger":
        """The ledger with each keyer's items at what is known of the keyer now (those in
        `trusts`): later judged fields correct what was known when the items were ruled on."""
        carried = {
            keyer: share.at(trusts[keyer]) if keyer in trusts else share
            for keyer, share in self.carried.items()
        }
        return replace(self, carried=carried)

    def rechecked(self, double: Valuation) -> "Ledger":
        """The items keyed twice each at `double`, what two keyings by the crew are worth as
        the crew's record now says: what was known of the crew when they were ruled on (at a
        job's start, little) is corrected as it learns. (An item whose first keyer was weaker
        than the crew is then counted a little too well: by the product of two small error
        chances.)"""
        return replace(self, checked=self.checked.at(double))

    def bound(self, z: float, over: int = 0) -> float:
        """The share of items right less z of its standard deviations (0 before any item).

        Over `over` items, when more than those ruled: the share the whole job delivers if
        the items still to rule go as those ruled did. Their outcomes' spread (Bernoulli)
        then shrinks with the job's size, not with the items ruled so far; the keyers'
        parameter spread does not, for it errs alike on every item a keyer carries. A job's
        first rulings so spend the margin its whole size allows, instead of asking the first
        few items to deliver the target alone (which would key nearly all of them twice).

        Each share's parameter spread adds in quadrature to the others'; the spreads through
        the crew's figure (`shared`), which every keyer's and what two keyings are worth lean
        on, add up, for they err together (most while the crew is new and its record
        short)."""
        if not self.items:
            return 0.0
        expected = sum(share.expected for share in self.shares)
        return max(0.0, expected / self.items - self.margin(z, over))

    def margin(self, z: float, over: int = 0) -> float:
        """z standard deviations of the share of items right (`bound`'s)."""
        items = self.items
        if not items:
            return 0.0
        shares = self.shares
        outcomes = sum(share.variance for share in shares) * items / max(over, items)
        own = sum(share.sd * share.sd for share in shares)
        variance = outcomes + own + sum(share.shared for share in shares) ** 2
        return z * math.sqrt(variance) / items


@dataclass(frozen=True)
class KeyerAccuracy:
    """What adaptive QC reads to rule on a first keying: the keyer's recent judged fields and
    the crew's on the work type, by field, and the job's ledger."""

    own: Mapping[str, Tally]
    crew: Crew
    ledger: Ledger = Ledger()


@dataclass(frozen=True)
class Ruling:
    """Adaptive QC on a first keying: whether to key the item again, why, and the ledger as
    it then stands."""

    again: bool
    reason: str
    ledger: Ledger
    # A partial second keying: the only fields to key again (none: the whole item).
    only: tuple[str, ...] = ()


def rule(ledger: Ledger, keyer: UUID, single: Trust, second: Trust, target: float) -> Ruling:
    """Accept the first keying alone if the job's lower bound stays at or above the target
    with it; else key the item again (`second`: what a second keying is expected to be
    worth, the crew's trust), which the ledger then counts as keyed twice (see `_again`).

    A keyer below both the target and the crew never carries an item alone, whatever margin
    the job has: the margin is spent where it buys the most single keyings."""
    if single.p < min(target, second.p):
        reason = (
            f"keyed again: the keyer's item accuracy {single.p:.2%} is under the crew's "
            f"{second.p:.2%} and the target {target:.2%}"
        )
        return _again(ledger, single, second, target, reason)
    alone = ledger.add_single(keyer, single)
    bound = alone.bound(Z_DECIDE, ledger.size)
    if bound >= target:
        return Ruling(
            False,
            f"one keying: the keyer's item accuracy {single.p:.2%} keeps the job's "
            f"delivered accuracy at {bound:.3%} or more ({DECIDE_CONFIDENCE * 100:g} % "
            f"confidence), target {target:.2%}",
            alone,
        )
    reason = (
        f"keyed again: with the keyer's item accuracy {single.p:.2%} alone the job's "
        f"delivered accuracy could fall to {bound:.3%}, under its target {target:.2%}"
    )
    return _again(ledger, single, second, target, reason)


def _again(ledger: Ledger, single: Trust, second: Trust, target: float, reason: str) -> Ruling:
    """Key the item again: only the fields the keyer is weak on (`weak_fields`) when the job,
    counting the item as keyed twice on those and once on the rest, still passes the test a
    single keying passes; else the whole item."""
    only = weak_fields(single)
    if only:
        partly = ledger.add_partly(both_wrong(single, second, only))
        bound = partly.bound(Z_DECIDE, ledger.size)
        if bound >= target:
            return Ruling(
                True,
                f"{reason}; only {', '.join(only)} keyed again (the keyer's error rate there "
                f"is over {WEAK_FACTOR:g} times the crew's): with the rest keyed once the job's "
                f"delivered accuracy stays at {bound:.3%} or more",
                partly,
                only,
            )
    return Ruling(True, reason, ledger.add_checked(both_wrong(single, second)))


def doubtful(was: bool, single: float, crew: float) -> bool:
    """Whether a keyer's first keyings on a work type are among the least trusted, so that
    intake offers them second keyings first (the others key items first): once their
    item accuracy falls below the crew's by half the crew's error rate, until it is back at
    the crew's (the gap keeps a keyer near the crew's figure from going back and forth)."""
    if was:
        return single < crew
    return single < crew - (1 - crew) / 2


@dataclass(frozen=True)
class Delivered:
    """The job's delivered accuracy as estimated, with its two-sided 95 % interval, and the
    one-sided 95 % lower bound its target is held to (`assured`)."""

    estimate: float | None
    low: float | None
    high: float | None
    assured: float | None

    @classmethod
    def of(cls, ledger: Ledger) -> "Delivered":
        if not ledger.items:
            return cls(None, None, None, None)
        estimate = sum(share.expected for share in ledger.shares) / ledger.items
        margin = ledger.margin(Z_TWO_SIDED)
        return cls(
            estimate,
            max(0.0, estimate - margin),
            min(1.0, estimate + margin),
            ledger.bound(Z_ONE_SIDED),
        )

    def meets(self, target: float) -> bool | None:
        """Whether the job delivers its target with 95 % confidence; None before any item."""
        return None if self.assured is None else self.assured >= target
