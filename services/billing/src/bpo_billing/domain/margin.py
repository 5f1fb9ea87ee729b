"""Margin: revenue (priced usage) less contractor cost (earnings), per job and per client."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from bpo_billing.domain.money import exact_price
from bpo_common.money import minor_units


@dataclass(frozen=True)
class Margin:
    revenue: Decimal
    cost: Decimal
    # None where part of the figures is in another currency (no rate converts one into the
    # other): revenue less only the cost in its own currency would overstate it.
    margin: Decimal | None


def margin(revenue: Decimal | None, cost: Decimal | None) -> Decimal:
    return (revenue or Decimal(0)) - (cost or Decimal(0))


def margin_of(revenue: Decimal, cost: Decimal) -> Margin:
    return Margin(revenue=revenue, cost=cost, margin=margin(revenue, cost))


class JobFigures(Protocol):
    """A job's revenue and cost in one currency in a period."""

    @property
    def client_id(self) -> UUID: ...

    @property
    def job_id(self) -> UUID: ...

    @property
    def currency(self) -> str: ...

    @property
    def revenue(self) -> Decimal: ...

    @property
    def cost(self) -> Decimal: ...


@dataclass
class ClientMargins:
    total: Margin = field(default_factory=lambda: margin_of(Decimal(0), Decimal(0)))
    jobs: dict[UUID, Margin] = field(default_factory=dict)


def by_client(jobs: Iterable[JobFigures]) -> dict[tuple[UUID, str], ClientMargins]:
    """Each job's figures as shown (exact prices, to the currency's minor unit at least, as
    invoices show them), and each client's as the sums of its jobs',
    per client and currency (revenue in the client's, cost in the piece rates': there is no
    rate to convert one into the other), in the order the jobs come."""
    clients: dict[tuple[UUID, str], ClientMargins] = {}
    for job in jobs:
        client = clients.setdefault((job.client_id, job.currency), ClientMargins())
        places = minor_units(job.currency)
        figures = margin_of(exact_price(job.revenue, places), exact_price(job.cost, places))
        client.jobs[job.job_id] = figures
        client.total = margin_of(
            client.total.revenue + figures.revenue, client.total.cost + figures.cost
        )
    return _mixed_left_open(clients)


def _mixed_left_open(
    clients: dict[tuple[UUID, str], ClientMargins],
) -> dict[tuple[UUID, str], ClientMargins]:
    """Each client's (and job's) margin left open (None) where it has figures in more than
    one currency."""
    currencies = Counter(client_id for client_id, _ in clients)
    jobs = Counter(
        (client, job) for (client, _), figures in clients.items() for job in figures.jobs
    )
    for (client_id, _), figures in clients.items():
        if currencies[client_id] > 1:
            figures.total = replace(figures.total, margin=None)
        for job_id, job in figures.jobs.items():
            if jobs[(client_id, job_id)] > 1:
                figures.jobs[job_id] = replace(job, margin=None)
    return clients
