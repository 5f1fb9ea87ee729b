"""The credits of jobs that fell short: a share of what a job's items were billed, for a late
job and for one that did not deliver its target accuracy with 95 % confidence."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from bpo_billing.domain.invoices import (
    InvoiceTerms,
    JobBelowTarget,
    LateJob,
    Line,
    LineKind,
    UsageGroup,
    assemble,
    usage_lines,
)

JOB = UUID("01900000-0000-7000-8000-000000000001")
OTHER_JOB = UUID("01900000-0000-7000-8000-000000000002")
DUE = datetime(2026, 3, 2, tzinfo=UTC)


def terms(
    currency: str = "EUR", *, sla: str = "0", accuracy: str = "10", tax: str = "0.21"
) -> InvoiceTerms:
    return InvoiceTerms(currency, Decimal(tax), Decimal(0), Decimal(sla), Decimal(accuracy))


def items(job_id: UUID, quantity: int, unit: str, external_ref: str | None = None) -> Line:
    """The usage line of `quantity` items of the job at `unit` each."""
    group = UsageGroup(job_id, "invoice", external_ref, Decimal(unit), quantity,
                       Decimal(unit) * quantity)  # fmt: skip
    return usage_lines([group], "EUR")[0]


# Usage enough for any credit below to fit on the draft.
COVER = items(OTHER_JOB, 1, "100000")


def below(
    job_id: UUID,
    billed: str,
    external_ref: str | None = None,
    *,
    estimate: float | None = 0.9891,
    assured: float | None = 0.987,
) -> JobBelowTarget:
    """A job that delivered 98.91 % (95 % lower bound 98.70 %) against a 99.50 % target."""
    return JobBelowTarget(job_id, external_ref, Decimal("0.995"), estimate, assured,
                          Decimal(billed))  # fmt: skip


def test_a_job_below_its_accuracy_target_is_credited_a_share_of_its_items() -> None:
    usage = [items(JOB, 3, "10", "batch-1"), items(OTHER_JOB, 2, "10")]
    draft = assemble(usage, [below(JOB, "30.00", "batch-1")], terms())
    assert draft.lines[len(usage) :] == (
        Line(
            LineKind.ACCURACY_CREDIT,
            "Accuracy credit 10%: job batch-1 delivered 98.91% against its 99.50% target "
            "(95 % lower bound 98.70%)",
            1,
            Decimal("-3.00"),
            Decimal("-3.00"),
            JOB,
        ),
    )
    # 30.00 + 20.00 - 3.00 = 47.00; tax 21 % of it once.
    assert (draft.totals.subtotal, draft.totals.tax, draft.totals.total) == (
        Decimal("47.00"),
        Decimal("9.87"),
        Decimal("56.87"),
    )


def test_a_job_without_an_external_ref_is_named_by_its_id() -> None:
    (_, line) = assemble([COVER], [below(OTHER_JOB, "20")], terms(accuracy="12.5")).lines
    assert line.description == (
        f"Accuracy credit 12.5%: job {OTHER_JOB} delivered 98.91% against its 99.50% target "
        "(95 % lower bound 98.70%)"
    )
    assert line.amount == Decimal("-2.50")


@pytest.mark.parametrize(
    ("currency", "billed", "pct", "credit"),
    [
        ("EUR", "0.33", "7.5", "-0.02"),  # 0.02475
        ("EUR", "0.34", "7.5", "-0.03"),  # 0.0255: half away from zero, once
        ("EUR", "123.45", "3.3333", "-4.11"),  # 4.11495885
        ("JPY", "1005", "10", "-101"),  # 100.5
        ("BHD", "10.005", "10", "-1.001"),  # 1.0005
    ],
)
def test_an_accuracy_credit_rounds_like_an_sla_credit(
    currency: str, billed: str, pct: str, credit: str
) -> None:
    accuracy = assemble([COVER], [below(JOB, billed)], terms(currency, accuracy=pct)).lines[1:]
    sla = assemble([COVER], [LateJob(JOB, None, DUE, DUE + timedelta(hours=1), Decimal(billed))],
                   terms(currency, sla=pct, accuracy="0")).lines[1:]  # fmt: skip
    assert [(line.amount, line.unit_price, line.quantity) for line in accuracy] == [
        (Decimal(credit), Decimal(credit), 1)
    ]
    assert [line.amount for line in sla] == [Decimal(credit)]


def test_no_accuracy_credit_line_at_zero_percent_or_when_it_rounds_to_nothing() -> None:
    usage = [items(JOB, 20, "1")]
    assert assemble(usage, [below(JOB, "20.00")], terms(accuracy="0")).lines == tuple(usage)
    # 0.04 x 10 % = 0.004: nothing in cents.
    assert assemble(usage, [below(JOB, "0.04")], terms()).lines == tuple(usage)


def test_a_job_both_late_and_below_its_target_gets_both_credits() -> None:
    usage = [items(JOB, 3, "10", "batch-1")]
    late = LateJob(JOB, "batch-1", DUE, DUE + timedelta(hours=6), Decimal("30.00"))
    draft = assemble(usage, [late, below(JOB, "30.00", "batch-1")], terms(sla="10", accuracy="5"))
    credits = [(line.kind, line.amount, line.job_id, line.description) for line in draft.lines[1:]]
    assert credits == [
        (LineKind.SLA_CREDIT, Decimal("-3.00"), JOB,
         "SLA credit 10%: job batch-1 completed 6.0 h late"),
        (LineKind.ACCURACY_CREDIT, Decimal("-1.50"), JOB,
         "Accuracy credit 5%: job batch-1 delivered 98.91% against its 99.50% target "
         "(95 % lower bound 98.70%)"),
    ]  # fmt: skip
    assert draft.totals.subtotal == Decimal("25.50")


def test_a_job_late_by_less_than_an_hour_is_said_late_in_minutes() -> None:
    usage = [items(JOB, 3, "10", "batch-1")]
    for late_by, said in ((timedelta(minutes=2), "2 min"), (timedelta(seconds=30), "1 min")):
        late = LateJob(JOB, "batch-1", DUE, DUE + late_by, Decimal("30.00"))
        (_, credit) = assemble(usage, [late], terms(sla="10")).lines
        assert credit.description == f"SLA credit 10%: job batch-1 completed {said} late"


def test_a_job_whose_accuracy_was_never_measured_says_so() -> None:
    (_, line) = assemble(
        [COVER], [below(JOB, "10", "x", estimate=None, assured=None)], terms()
    ).lines
    assert line.description == (
        "Accuracy credit 10%: job x delivered no measured accuracy against its 99.50% target"
    )


def test_a_credit_that_would_take_the_invoice_below_zero_waits_for_a_later_draft() -> None:
    usage = [items(JOB, 1, "10")]
    late = LateJob(OTHER_JOB, None, DUE, DUE + timedelta(hours=1), Decimal("1010"))
    draft = assemble(usage, [late, below(JOB, "10.00")], terms(sla="10", accuracy="10"))
    assert [line.kind for line in draft.lines] == [LineKind.USAGE, LineKind.ACCURACY_CREDIT]
    assert draft.deferred == (late,)
    assert (draft.totals.subtotal, draft.totals.total) == (Decimal("9.00"), Decimal("10.89"))
