"""What contractors earn: a task's piece rate by how its work came out, and what a statement
of them adds up to."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from bpo_billing.domain.money import ledger, round_money
from bpo_common.contracts import TaskOutcome


def earning_factor(outcome: TaskOutcome, overturned_fraction: Decimal) -> Decimal:
    """Accepted work pays the rate, overturned work a fraction of it, rejected work nothing;
    work a cancel left unjudged pays the rate (the keyer did what was asked, and nothing
    found it wrong)."""
    if outcome in (TaskOutcome.ACCEPTED, TaskOutcome.UNJUDGED):
        return Decimal(1)
    if outcome is TaskOutcome.OVERTURNED:
        return overturned_fraction
    return Decimal(0)


def earning_amount(
    rate: Decimal,
    factor: Decimal,
    per_hour: Decimal | None = None,
    active_seconds: float | None = None,
) -> Decimal:
    """The piece rate, plus the hourly rate for the time the contractor was active on the
    task when both are known (to the millisecond), by how the work came out."""
    pay = rate
    if per_hour is not None and active_seconds is not None:
        pay += per_hour * Decimal(f"{active_seconds:.3f}") / 3600
    return ledger(pay * factor)


class Earned(Protocol):
    """Tasks of a statement group: how many, and their exact sum (None while unpriced)."""

    @property
    def tasks(self) -> int: ...

    @property
    def amount(self) -> Decimal | None: ...

    @property
    def currency(self) -> str | None: ...


@dataclass(frozen=True)
class StatementTotals:
    # Each group's amount rounded to its currency, in the groups' order; None while unpriced.
    amounts: list[Decimal | None]
    totals: dict[str, Decimal]
    unpriced_tasks: int


def statement_totals(groups: Iterable[Earned]) -> StatementTotals:
    """Each group rounded once to its currency, totals per currency as sums of those, and
    the tasks whose work type has no piece rate yet counted apart."""
    amounts: list[Decimal | None] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    unpriced = 0
    for group in groups:
        if group.currency is None or group.amount is None:
            unpriced += group.tasks
            amounts.append(None)
            continue
        amount = round_money(group.amount, group.currency)
        totals[group.currency] += amount
        amounts.append(amount)
    return StatementTotals(amounts=amounts, totals=dict(totals), unpriced_tasks=unpriced)
