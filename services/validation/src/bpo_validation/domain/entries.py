"""What validation knows of an item when it decides: its entries (keyings, reviews,
adjudications, and the machine's keying drawn from the first keying's pre-fill), and how
entries are judged field by field against a truth.

A partial second keying (adaptive QC asked for some fields only) is read as keying the
other fields as the first keying did: it is compared, checked and shown so, and the item's
keyings are judged on the fields it keyed only (the first keying's others are unjudged, as
in a single keying)."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common.contracts import MACHINE_CONTRACTOR_ID, QcPolicy, TaskKind
from bpo_common.contracts.intake import Suggested
from bpo_common.ids import sampled
from bpo_common.rules import JobSpec
from bpo_validation.domain.fields import FieldVerdict, judge


@dataclass(frozen=True)
class Submission:
    """One submitted task on the item: a keying, a review or an adjudication."""

    task_id: UUID
    kind: TaskKind
    contractor_id: UUID
    data: dict[str, Any]
    # The known answer of a control item.
    golden: dict[str, Any] | None = None
    # Verify mode: the client's own values, which the keyer checked.
    client_values: dict[str, Any] | None = None
    # A reviewer's reason for rejecting the item; on a keying, the keyer's reason it could
    # not be read.
    rejection: str | None = None
    entries_expected: int = 1
    # An entry task's machine pre-fill, and the layout it was read by.
    suggestions: Mapping[str, Suggested] = field(default_factory=dict)
    layout_id: UUID | None = None
    # A partial second keying: the only fields it keyed (empty: all of the job's).
    keyed_fields: tuple[str, ...] = ()

    @property
    def prefill(self) -> dict[str, Any]:
        return {name: shown.value for name, shown in self.suggestions.items()}


@dataclass(frozen=True)
class Item:
    item_id: UUID
    work_type: str
    # Every entry so far, in the order they were submitted; `submitted` is among them.
    entries: Sequence[Submission]
    submitted: Submission
    # The secret its job's review sample is drawn with (bpo_common.ids.sampled).
    sample_key: bytes = b""

    def sampled(self, rate: Decimal) -> bool:
        """Whether the item is in its job's review sample at this rate."""
        return sampled(self.item_id, rate, self.sample_key)


@dataclass(frozen=True)
class Judged:
    entry: Submission
    fields: tuple[FieldVerdict, ...]


@dataclass(frozen=True)
class Judging:
    """Entries judged field by field against a truth: a known answer (`golden`), the result
    the item is accepted with, or, provisionally, another keying's values (`disputed`)."""

    golden: bool
    entries: tuple[Judged, ...]

    def tallies(self) -> dict[UUID, tuple[int, int]]:
        """(judged, correct) fields per contractor, each contractor judged (if on no field)."""
        counts: dict[UUID, tuple[int, int]] = {}
        for judged in self.entries:
            if judged.entry.contractor_id == MACHINE_CONTRACTOR_ID:
                continue
            total, right = counts.get(judged.entry.contractor_id, (0, 0))
            counts[judged.entry.contractor_id] = (
                total + len(judged.fields),
                right + sum(verdict.correct for verdict in judged.fields),
            )
        return counts


def keyings_of(item: Item) -> list[Submission]:
    """The item's keyings, a partial one completed with the first keying's other fields."""
    keyings = [entry for entry in item.entries if entry.kind is TaskKind.ENTRY]
    first = keyings[0].data if keyings else {}
    return [
        replace(
            keying, data={**first, **{name: keying.data.get(name) for name in keying.keyed_fields}}
        )
        if keying.keyed_fields and keying.rejection is None
        else keying
        for keying in keyings
    ]


def rekeyed(keyings: Sequence[Submission]) -> tuple[str, ...]:
    """The fields a partial second keying of the item keyed (empty: the keyings are whole)."""
    return next((keying.keyed_fields for keying in keyings if keying.keyed_fields), ())


def judging(
    spec: JobSpec,
    entries: Sequence[Submission],
    truth: Mapping[str, Any],
    *,
    golden: bool,
    machine: Submission | None = None,
    only: Collection[str] = (),
) -> Judging:
    """The entries judged against the truth (on the fields `only`, if given); the machine too
    (on the fields it keyed). An entry that marked the item unreadable keyed no field: it is
    judged on none (its task is overturned when the item is keyed after all; scoring), but
    against a known answer (`golden`: a control, readable by its making) as one wrong field:
    judged on none, marking every control unreadable would pass a qualification; on every
    field, one large control would suspend its keyer."""
    if only:
        truth = {name: value for name, value in truth.items() if name in only}
    judged = [
        Judged(e, tuple(judge(spec, e.data, truth, e.prefill)))
        if e.rejection is None
        else Judged(e, _one_wrong(spec, truth) if golden else ())
        for e in entries
    ]
    if machine is not None:
        covered = {name: value for name, value in truth.items() if name in machine.data}
        judged.append(Judged(machine, tuple(judge(spec, machine.data, covered))))
    return Judging(golden, tuple(judged))


def _one_wrong(spec: JobSpec, truth: Mapping[str, Any]) -> tuple[FieldVerdict, ...]:
    """A keying of nothing against a known answer: wrong on the first field the answer gives
    (judged wrong, even where the answer's is empty, as nothing is)."""
    return tuple(replace(verdict, correct=False) for verdict in judge(spec, {}, truth)[:1])


def disputed(spec: JobSpec, keyings: Sequence[Submission], only: Collection[str] = ()) -> Judging:
    """Keyings that differ, while their item awaits its adjudication: each judged against the
    next one's values (the last against the first's: with the two keyings an item gets at
    most before an adjudication, each against the other), on the fields `only` if given.
    Where two keyings differ, one of them at least is wrong; which one, the adjudicator will
    say, so this judging is provisional (adaptive QC counts each of its wrong fields as half
    an error; `repository.accuracy`)."""
    others = [*keyings[1:], keyings[0]]
    judged = []
    for keying, other in zip(keyings, others, strict=True):
        truth = {name: value for name, value in other.data.items() if not only or name in only}
        judged.append(Judged(keying, tuple(judge(spec, keying.data, truth))))
    return Judging(False, tuple(judged))


def machine_keying(policy: QcPolicy, keying: Submission, item_id: UUID) -> Submission | None:
    """The machine's keying of the item: the values it was confident of on the keying's task
    (planted wrong ones aside), or None. Its task is the item: it keys each item once."""
    confident = {
        name: shown.value
        for name, shown in keying.suggestions.items()
        if not shown.planted and Decimal(str(shown.confidence)) >= policy.suggestion_threshold
    }
    if not confident:
        return None
    return Submission(
        item_id, TaskKind.ENTRY, MACHINE_CONTRACTOR_ID, confident, layout_id=keying.layout_id
    )
