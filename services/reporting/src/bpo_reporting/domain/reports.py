"""The figures the reports make of the rollups: periods, currencies, ratios, rates, money."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from bpo_common.errors import FieldError, Invalid
from bpo_common.money import minor_units, shown
from bpo_reporting.domain.buckets import Bucket
from bpo_reporting.domain.turnaround import Bins, percentile

MAX_RANGE = timedelta(days=366)
MAX_HOURLY_RANGE = timedelta(days=31)


def longest_period(bucket: Bucket) -> timedelta:
    """Hours are listed for up to a month, days for up to a year."""
    return MAX_HOURLY_RANGE if bucket is Bucket.HOUR else MAX_RANGE


def check_period(start: datetime, end: datetime, longest: timedelta = MAX_RANGE) -> None:
    if start >= end:
        raise Invalid("from must be before to", errors=[FieldError("from", "must be before to")])
    if end - start > longest:
        raise Invalid(
            f"the period may span at most {longest.days} days",
            errors=[FieldError("from", f"at most {longest.days} days before to")],
        )


def only_currency(present: Sequence[str]) -> str | None:
    """Money is answered in one currency: when none is asked for, the only one with amounts
    in the period (None when there are none); several is a 422."""
    if len(present) > 1:
        listed = ", ".join(present)
        raise Invalid(
            f"the period has amounts in {listed}; choose one with currency",
            errors=[FieldError("currency", f"one of {listed}")],
        )
    return present[0] if present else None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Judged:
    """Entries by how they came out, and the fields judged in them, summed over a period."""

    entries_accepted: int = 0
    entries_overturned: int = 0
    entries_rejected: int = 0
    fields_judged: int = 0
    fields_correct: int = 0

    @property
    def accuracy(self) -> float | None:
        return ratio(self.fields_correct, self.fields_judged)


@dataclass(frozen=True)
class Counts(Judged):
    """The hourly rollup's counters, summed over a period."""

    items_received: int = 0
    items_completed: int = 0
    items_rejected: int = 0
    jobs_sla_met: int = 0
    jobs_sla_missed: int = 0

    @property
    def items_finished(self) -> int:
        return self.items_completed + self.items_rejected

    @property
    def sla_met_ratio(self) -> float | None:
        """Jobs completed by their due time, of the jobs due that completed."""
        return ratio(self.jobs_sla_met, self.jobs_sla_met + self.jobs_sla_missed)


@dataclass(frozen=True)
class ContractorWork(Judged):
    """The contractor rollup summed over a period, and the hours with a task submitted."""

    tasks_submitted: int = 0
    tasks_expired: int = 0
    submit_seconds: float = 0.0
    active_hours: int = 0
    timed_tasks: int = 0
    active_seconds: float = 0.0
    fields_keyed: int = 0

    @property
    def tasks_per_active_hour(self) -> float | None:
        if not self.active_hours:
            return None
        return round(self.tasks_submitted / self.active_hours, 3)

    @property
    def avg_seconds_to_submit(self) -> float | None:
        if not self.tasks_submitted:
            return None
        return round(self.submit_seconds / self.tasks_submitted, 1)

    @property
    def seconds_per_field(self) -> float | None:
        """Active time per field keyed, over the tasks whose time was measured."""
        if not self.fields_keyed:
            return None
        return round(self.active_seconds / self.fields_keyed, 2)

    @property
    def items_per_hour(self) -> float | None:
        """Tasks per hour of active time, over the tasks whose time was measured."""
        if not self.active_seconds:
            return None
        return round(self.timed_tasks * 3600 / self.active_seconds, 1)


@dataclass(frozen=True)
class Money:
    """Revenue (billing's usage) and contractor cost (earnings), in one currency; `mixed` when
    the same clients' costs and revenue are in different currencies (piece rates need not be
    in the client's currency): then no margin can be told in this one."""

    revenue: Decimal = Decimal(0)
    contractor_cost: Decimal = Decimal(0)
    mixed: bool = False

    @property
    def margin(self) -> Decimal | None:
        return None if self.mixed else self.revenue - self.contractor_cost


def total(amounts: Collection[Money]) -> Money:
    return Money(
        sum((money.revenue for money in amounts), Decimal(0)),
        sum((money.contractor_cost for money in amounts), Decimal(0)),
        any(money.mixed for money in amounts),
    )


def marked_mixed(
    money: Mapping[UUID, Money], currencies: Mapping[UUID, Mapping[str, bool]]
) -> dict[UUID, Money]:
    """Each client's money (in one currency), marked `mixed` where the client has contractor
    cost and its money is in more than one currency (`currencies`: each client's, with
    whether it holds cost). Revenue in two currencies and no cost leaves each margin true."""
    return {
        client_id: replace(amounts, mixed=True)
        if len(held := currencies.get(client_id, {})) > 1 and any(held.values())
        else amounts
        for client_id, amounts in money.items()
    }


@dataclass(frozen=True)
class Figures:
    """What the overview says of all clients, and the clients report of each."""

    items_received: int
    items_completed: int
    items_rejected: int
    backlog: int
    turnaround_p50_s: float | None
    turnaround_p90_s: float | None
    sla_met_ratio: float | None
    accuracy: float | None
    revenue: Decimal | None
    contractor_cost: Decimal | None
    margin: Decimal | None


def figures(
    counts: Counts, backlog: int, turnarounds: Bins, money: Money | None, currency: str | None
) -> Figures:
    """The figures of clients' work: `money` is None when the period has none to show, else in
    `currency`, written as billing writes amounts (see `money_shown`)."""
    return Figures(
        items_received=counts.items_received,
        items_completed=counts.items_completed,
        items_rejected=counts.items_rejected,
        backlog=backlog,
        turnaround_p50_s=percentile(turnarounds, 0.5),
        turnaround_p90_s=percentile(turnarounds, 0.9),
        sla_met_ratio=counts.sla_met_ratio,
        accuracy=counts.accuracy,
        revenue=money_shown(None if money is None else money.revenue, currency),
        contractor_cost=money_shown(None if money is None else money.contractor_cost, currency),
        margin=money_shown(None if money is None else money.margin, currency),
    )


def money_shown(amount: Decimal | None, currency: str | None) -> Decimal | None:
    """A sum of the ledger's amounts as billing shows them: to the currency's minor unit at
    least, more only where the exact sum has more (0.50 and 0.125 euros, 3000 yen), whatever
    places the summed amounts came with (billing sends each without trailing zeros: 0.5)."""
    if amount is None or currency is None:
        return None
    return shown(amount, minor_units(currency))
