"""What contractors earn, what a statement adds up to, and the margin per job and client."""

from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import pytest
from pydantic import ValidationError

from bpo_billing.domain.earnings import earning_amount, earning_factor, statement_totals
from bpo_billing.domain.margin import by_client, margin_of
from bpo_billing.settings import Settings
from bpo_common.contracts import TaskOutcome

CLIENT = UUID("01900000-0000-7000-8000-00000000000c")
OTHER_CLIENT = UUID("01900000-0000-7000-8000-00000000000d")
JOB = UUID("01900000-0000-7000-8000-000000000001")
OTHER_JOB = UUID("01900000-0000-7000-8000-000000000002")


class Group(NamedTuple):
    tasks: int
    amount: Decimal | None
    currency: str | None


class JobRow(NamedTuple):
    client_id: UUID
    job_id: UUID
    currency: str
    revenue: Decimal
    cost: Decimal


def test_accepted_work_pays_overturned_a_fraction_rejected_nothing() -> None:
    fraction = Decimal("0.5")
    assert earning_factor(TaskOutcome.ACCEPTED, fraction) == 1
    assert earning_factor(TaskOutcome.OVERTURNED, fraction) == fraction
    assert earning_factor(TaskOutcome.REJECTED, fraction) == 0
    # Work a cancel left undecided: nothing found it wrong.
    assert earning_factor(TaskOutcome.UNJUDGED, fraction) == 1


def test_an_earning_is_its_rate_times_its_factor_to_the_ledgers_precision() -> None:
    assert earning_amount(Decimal("0.20"), Decimal("0.4")) == Decimal("0.08")
    assert earning_amount(Decimal("0.123456789"), Decimal(1)) == Decimal("0.12345679")
    # An hourly rate pays the active time besides, to the millisecond, by the same factor.
    assert earning_amount(Decimal("0.20"), Decimal(1), Decimal("12"), 90.0) == Decimal("0.5")
    assert earning_amount(Decimal("0.20"), Decimal("0.4"), Decimal("12"), 60.0004) == (
        Decimal("0.16")
    )
    assert earning_amount(Decimal("0.20"), Decimal(1), Decimal("12"), None) == Decimal("0.2")
    assert earning_amount(Decimal("0.20"), Decimal(1), None, 90.0) == Decimal("0.2")
    assert earning_amount(Decimal("0.30"), Decimal(0)) == 0


def test_a_statement_rounds_each_group_once_and_totals_per_currency() -> None:
    figures = statement_totals(
        [
            Group(2, Decimal("0.40"), "EUR"),
            Group(1, Decimal("0.0825"), "EUR"),
            Group(3, None, None),
            Group(1, Decimal("12.5"), "JPY"),
        ]
    )
    assert figures.amounts == [Decimal("0.40"), Decimal("0.08"), None, Decimal(13)]
    assert figures.totals == {"EUR": Decimal("0.48"), "JPY": Decimal(13)}
    assert figures.unpriced_tasks == 3


def test_margin_is_revenue_minus_cost_per_job_and_summed_per_client_and_currency() -> None:
    clients = by_client(
        [
            JobRow(CLIENT, JOB, "EUR", Decimal("3.00000000"), Decimal("0.60000000")),
            JobRow(CLIENT, OTHER_JOB, "EUR", Decimal(0), Decimal("0.25")),
            JobRow(OTHER_CLIENT, JOB, "USD", Decimal("1.5"), Decimal(0)),
        ]
    )
    assert list(clients) == [(CLIENT, "EUR"), (OTHER_CLIENT, "USD")]
    mine = clients[(CLIENT, "EUR")]
    assert mine.jobs == {
        JOB: margin_of(Decimal("3.00"), Decimal("0.60")),
        OTHER_JOB: margin_of(Decimal("0.00"), Decimal("0.25")),
    }
    assert (str(mine.total.revenue), str(mine.total.cost), str(mine.total.margin)) == (
        "3.00",
        "0.85",
        "2.15",
    )
    assert mine.jobs[JOB].margin == Decimal("2.40")
    assert clients[(OTHER_CLIENT, "USD")].total == margin_of(Decimal("1.50"), Decimal("0.00"))


def test_a_margin_with_cost_in_another_currency_than_its_revenue_is_left_open() -> None:
    clients = by_client(
        [
            JobRow(CLIENT, JOB, "EUR", Decimal("100"), Decimal(0)),
            JobRow(CLIENT, OTHER_JOB, "EUR", Decimal("5"), Decimal("1")),
            JobRow(CLIENT, JOB, "USD", Decimal(0), Decimal("30")),
        ]
    )
    # 100 EUR less 30 USD is no figure: neither 100 EUR nor -30 USD is the margin.
    euros, dollars = clients[(CLIENT, "EUR")], clients[(CLIENT, "USD")]
    assert (euros.total.revenue, euros.total.cost) == (Decimal(105), Decimal(1))
    assert euros.total.margin is None
    assert (dollars.total.cost, dollars.total.margin) == (Decimal(30), None)
    assert (euros.jobs[JOB].margin, dollars.jobs[JOB].margin) == (None, None)
    assert euros.jobs[OTHER_JOB].margin == Decimal("4.00"), "a job in one currency has one"


def test_margin_figures_are_shown_to_their_currency_s_minor_unit() -> None:
    clients = by_client(
        [
            JobRow(CLIENT, JOB, "JPY", Decimal("3000.00000000"), Decimal("150.5")),
            JobRow(OTHER_CLIENT, JOB, "BHD", Decimal("1.5"), Decimal("0.25")),
        ]
    )
    yen, dinars = clients[(CLIENT, "JPY")].total, clients[(OTHER_CLIENT, "BHD")].total
    assert (str(yen.revenue), str(yen.cost), str(yen.margin)) == ("3000", "150.5", "2849.5")
    assert (str(dinars.revenue), str(dinars.cost), str(dinars.margin)) == (
        "1.500",
        "0.250",
        "1.250",
    )


def test_an_overturned_fraction_beyond_what_earnings_keep_stops_the_service_at_start() -> None:
    database = "postgresql+asyncpg://billing@db/billing"
    with pytest.raises(ValidationError, match="overturned_fraction"):
        Settings(database_url=database, overturned_fraction=Decimal("0.33333"))
    assert Settings(database_url=database, overturned_fraction=Decimal("0.3333"))


def test_payment_terms_a_due_date_cannot_hold_stop_the_service_at_start() -> None:
    database = "postgresql+asyncpg://billing@db/billing"
    # Millions of days would overflow every finalized invoice's due date: a 500 each time.
    with pytest.raises(ValidationError, match="payment_terms_days"):
        Settings(database_url=database, payment_terms_days=3_000_000)
    assert Settings(database_url=database, payment_terms_days=3650).payment_terms_days == 3650
