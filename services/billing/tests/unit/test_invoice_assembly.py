"""An invoice's arithmetic: lines from the claimed usage, the minimum fee, SLA credits, tax
and totals, and what payments and credit notes may settle."""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpo_billing.domain.invoices import (
    InvoiceStatus,
    InvoiceTerms,
    LateJob,
    Line,
    LineKind,
    UsageGroup,
    UsageKind,
    amount_due,
    assemble,
    check_payment,
    credit_amount,
    ensure_status,
    invoice_totals,
    line_amount,
    overdue,
    settlement_errors,
    usage_lines,
)
from bpo_billing.domain.minimum_fee import MonthBilled, minimum_fee_top_up
from bpo_common.errors import Conflict, Invalid
from bpo_common.money import minor_units

CURRENCIES = ["EUR", "USD", "JPY", "BHD", "CHF"]
EXAMPLES = settings(max_examples=150, deadline=None)
JOB = UUID("01900000-0000-7000-8000-000000000001")
OTHER_JOB = UUID("01900000-0000-7000-8000-000000000002")
DUE = datetime(2026, 3, 2, tzinfo=UTC)
TERMS = InvoiceTerms(
    currency="EUR",
    tax_rate=Decimal("0.21"),
    minimum_monthly_fee=Decimal(0),
    sla_credit_pct=Decimal(10),
)

prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def money(draw: st.DrawFn, currency: str, max_value: int = 100_000) -> Decimal:
    places = minor_units(currency)
    return draw(
        st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False,
                    allow_infinity=False)
    )  # fmt: skip


def group(
    job_id: UUID,
    quantity: int,
    unit: str,
    kind: UsageKind = UsageKind.ITEM,
    **terms: str | None,
) -> UsageGroup:
    return UsageGroup(
        job_id=job_id,
        work_type=terms.get("work_type") or "invoice",
        external_ref=terms.get("external_ref"),
        unit_price=Decimal(unit),
        quantity=quantity,
        exact_sum=Decimal(unit) * quantity,
        kind=kind,
    )


def late(job_id: UUID, by: timedelta, billed: str, external_ref: str | None = None) -> LateJob:
    return LateJob(job_id, external_ref, DUE, DUE + by, Decimal(billed))


@EXAMPLES
@given(
    currency=st.sampled_from(CURRENCIES),
    exact_sums=st.lists(prices, min_size=0, max_size=30),
    tax_rate=rates,
)
def test_lines_add_up_to_the_subtotal_and_tax_follows_the_rounding_rule(
    currency: str, exact_sums: list[Decimal], tax_rate: Decimal
) -> None:
    lines = [line_amount(amount, currency) for amount in exact_sums]
    totals = invoice_totals(lines, tax_rate, currency)
    quantum = Decimal(1).scaleb(-minor_units(currency))
    assert totals.subtotal == sum(lines, Decimal(0))
    assert totals.tax == (totals.subtotal * tax_rate).quantize(quantum, rounding=ROUND_HALF_UP)
    assert totals.total == totals.subtotal + totals.tax
    for line, exact in zip(lines, exact_sums, strict=True):
        # Each line is its exact sum rounded half-up: never off by more than half a minor unit.
        assert abs(line - exact) <= quantum / 2
        assert line.as_tuple().exponent == -minor_units(currency)


def test_each_usage_group_is_a_line_rounded_once_from_its_exact_sum() -> None:
    lines = usage_lines(
        [
            group(JOB, 7, "0.333", external_ref="batch-1"),
            group(OTHER_JOB, 3, "0.255", work_type="receipt"),
        ],
        "EUR",
    )
    assert lines == [
        Line(LineKind.USAGE, "invoice items, job batch-1", 7, Decimal("0.333"), Decimal("2.33"),
             JOB, "invoice"),
        Line(LineKind.USAGE, f"receipt items, job {OTHER_JOB}", 3, Decimal("0.255"),
             Decimal("0.77"), OTHER_JOB, "receipt"),
    ]  # fmt: skip
    draft = assemble(lines, [], TERMS)
    assert draft.lines == tuple(lines)
    # 2.33 + 0.77, then 3.10 x 0.21 = 0.651 rounded once
    assert (draft.totals.subtotal, draft.totals.tax, draft.totals.total) == (
        Decimal("3.10"),
        Decimal("0.65"),
        Decimal("3.75"),
    )


def test_an_amount_an_invoice_cannot_hold_is_refused_saying_what_it_would_come_to() -> None:
    most = Decimal("999999999999999999.99")
    assert invoice_totals([most], Decimal(0), "EUR").total == most
    # Half a cent short of 10^18 exactly, which it rounds to.
    with pytest.raises(Conflict) as refused:
        usage_lines([group(JOB, 2, "499999999999999999.9975", external_ref="huge")], "EUR")
    assert str(refused.value) == (
        "the line of invoice items, job huge would come to 1000000000000000000.00 EUR, "
        "more than an invoice holds (under 1000000000000000000 EUR)"
    )
    with pytest.raises(Conflict, match=r"^the invoice's subtotal would come to 1200000000000"):
        invoice_totals([Decimal("600000000000000000.00")] * 2, Decimal(0), "EUR")
    with pytest.raises(Conflict, match=r"^the invoice's total would come to 1200000000000"):
        invoice_totals([Decimal("600000000000000000.00")], Decimal(1), "EUR")
    # Past the digits decimal arithmetic keeps: refused all the same, not an InvalidOperation.
    with pytest.raises(Conflict):
        usage_lines([group(JOB, 10**15, "402000000000")], "EUR")


def test_resolved_exceptions_are_a_line_of_their_own() -> None:
    lines = usage_lines(
        [
            group(JOB, 4, "0.50", external_ref="batch-1"),
            group(JOB, 3, "0.125", UsageKind.EXCEPTION, external_ref="batch-1"),
        ],
        "EUR",
    )
    assert lines[1] == Line(
        LineKind.EXCEPTION,
        "Match exceptions resolved, job batch-1",
        3,
        Decimal("0.125"),
        Decimal("0.38"),  # 0.375 rounded half-up, once
        JOB,
        "invoice",
    )
    assert lines[0].kind is LineKind.USAGE
    assert assemble(lines, [], TERMS).totals.subtotal == Decimal("2.38")


def test_usage_below_the_minimum_fee_is_topped_up_and_late_jobs_are_credited() -> None:
    terms = InvoiceTerms("EUR", Decimal("0.21"), Decimal("100.00"), Decimal(10))
    usage = usage_lines([group(JOB, 3, "10"), group(OTHER_JOB, 2, "10")], "EUR")
    draft = assemble(
        usage,
        [late(JOB, timedelta(hours=6), "30.00", "late"), late(OTHER_JOB, timedelta(days=3), "20")],
        terms,
    )
    added = draft.lines[len(usage) :]
    assert [(line.kind, line.amount, line.job_id) for line in added] == [
        (LineKind.MINIMUM_FEE, Decimal("50.00"), None),
        (LineKind.SLA_CREDIT, Decimal("-3.00"), JOB),
        (LineKind.SLA_CREDIT, Decimal("-2.00"), OTHER_JOB),
    ]
    assert [line.description for line in added] == [
        "Minimum monthly fee of 100.00 EUR",
        "SLA credit 10%: job late completed 6.0 h late",
        f"SLA credit 10%: job {OTHER_JOB} completed 3.0 days late",
    ]
    assert all((line.quantity, line.unit_price) == (1, line.amount) for line in added)
    assert (draft.totals.subtotal, draft.totals.tax, draft.totals.total) == (
        Decimal("95.00"),
        Decimal("19.95"),
        Decimal("114.95"),
    )


def test_usage_above_the_minimum_and_credits_that_round_to_nothing_add_no_line() -> None:
    terms = InvoiceTerms("EUR", Decimal(0), Decimal("10"), Decimal("0.1"))
    usage = usage_lines([group(JOB, 20, "1")], "EUR")
    draft = assemble(usage, [late(JOB, timedelta(hours=1), "0.04")], terms)
    assert draft.lines == tuple(usage)
    assert assemble([], [], TERMS).lines == ()


def test_a_line_shows_its_unit_price_in_the_currency_s_minor_unit() -> None:
    (yen,) = usage_lines([group(JOB, 3, "1000")], "JPY")
    (dinars,) = usage_lines([group(JOB, 3, "1.5")], "BHD")
    assert (str(yen.unit_price), str(yen.amount)) == ("1000", "3000")
    assert (str(dinars.unit_price), str(dinars.amount)) == ("1.500", "4.500")


def test_a_minimum_fee_alone_makes_an_invoice() -> None:
    terms = InvoiceTerms("JPY", Decimal("0.1"), Decimal(5000), Decimal(0))
    draft = assemble([], [], terms)
    assert [(line.kind, line.amount) for line in draft.lines] == [
        (LineKind.MINIMUM_FEE, Decimal(5000))
    ]
    assert draft.totals.total == Decimal(5500)


def test_usage_billed_later_in_the_month_takes_back_the_fee_charged_earlier() -> None:
    terms = InvoiceTerms("EUR", Decimal(0), Decimal("100.00"), Decimal(10))
    first = assemble(usage_lines([group(JOB, 3, "10")], "EUR"), [], terms)
    assert [(line.kind, line.amount) for line in first.lines[1:]] == [
        (LineKind.MINIMUM_FEE, Decimal("70.00"))
    ]
    usage = usage_lines([group(JOB, 5, "10")], "EUR")
    second = assemble(usage, [late(JOB, timedelta(hours=1), "50")], terms, MonthBilled(
        usage=Decimal("30.00"), fees=Decimal("70.00")
    ))  # fmt: skip
    fee = Line(LineKind.MINIMUM_FEE,
               "Minimum monthly fee of 100.00 EUR on the month's usage of 80.00 EUR (30.00 EUR "
               "of it on its other invoices): 20.00 EUR, less 70.00 EUR charged before: 50.00 "
               "EUR given back", 1, Decimal("-50.00"), Decimal("-50.00"))  # fmt: skip
    assert second.lines == (*usage, fee)
    # 80.00 of usage under a minimum of 100.00: the month pays 100.00, and the credit waits.
    assert (first.totals.total, second.totals.total) == (Decimal("100.00"), Decimal("0.00"))
    assert [job.job_id for job in second.deferred] == [JOB]


@pytest.mark.parametrize(
    ("usage", "month", "minimum", "said", "amount"),
    [
        # A later draft's usage makes up the fee an earlier one charged.
        ("50.00", MonthBilled(Decimal("30.00"), Decimal("70.00")), "100.00",
         "on the month's usage of 80.00 EUR (30.00 EUR of it on its other invoices): 20.00 EUR, "
         "less 70.00 EUR charged before: 50.00 EUR given back", "-50.00"),
        # The fee invoice voided, the month drafted again beside the one that gave 50.00 back.
        ("30.00", MonthBilled(Decimal("50.00"), Decimal("-50.00")), "100.00",
         "on the month's usage of 80.00 EUR (50.00 EUR of it on its other invoices): 20.00 EUR, "
         "plus 50.00 EUR given back before", "70.00"),
        # Usage billed before the minimum was charged by another invoice.
        ("20.00", MonthBilled(Decimal("40.00")), "100.00",
         "on the month's usage of 60.00 EUR (40.00 EUR of it on its other invoices): 40.00 EUR",
         "40.00"),
        # No minimum in force at this draft's end: the fee charged comes back up to its usage.
        ("10.00", MonthBilled(Decimal("30.00"), Decimal("70.00")), "0",
         "on the month's usage of 40.00 EUR (30.00 EUR of it on its other invoices): 0.00 EUR, "
         "less 70.00 EUR charged before: 10.00 EUR given back, no more than this invoice's usage",
         "-10.00"),
    ],
    ids=["made-up", "given-back-before", "usage-before", "at-most-its-usage"],
)  # fmt: skip
def test_the_minimum_fee_line_says_figures_that_add_up_to_its_amount(
    usage: str, month: MonthBilled, minimum: str, said: str, amount: str
) -> None:
    terms = InvoiceTerms("EUR", Decimal(0), Decimal(minimum), Decimal(0))
    (*_, fee) = assemble(usage_lines([group(JOB, 1, usage)], "EUR"), [], terms, month).lines
    assert fee.kind is LineKind.MINIMUM_FEE
    assert fee.description == f"Minimum monthly fee of {Decimal(minimum):.2f} EUR {said}"
    assert fee.amount == Decimal(amount)
    assert "-" not in fee.description


def test_a_fee_is_given_back_no_further_than_the_draft_s_own_usage() -> None:
    # The minimum of a version that took effect later in the month: none.
    charged = MonthBilled(usage=Decimal("30.00"), fees=Decimal("70.00"))
    assert minimum_fee_top_up(Decimal("10.00"), Decimal(0), "EUR", charged) == Decimal("-10.00")
    # Under the same minimum, the fee charged is always enough to give back.
    assert minimum_fee_top_up(Decimal("5.00"), Decimal(100), "EUR", charged) == Decimal("-5.00")
    assert minimum_fee_top_up(Decimal(0), Decimal(100), "EUR", charged) == Decimal(0)


@EXAMPLES
@given(st.sampled_from(CURRENCIES), st.data())
def test_a_month_s_invoices_bill_its_usage_or_the_minimum_whichever_is_more(
    currency: str, data: st.DataObject
) -> None:
    minimum = data.draw(money(currency, 1000))
    month = MonthBilled()
    for usage in data.draw(st.lists(money(currency, 300), max_size=6)):
        fee = minimum_fee_top_up(usage, minimum, currency, month)
        assert usage + fee >= 0, "an invoice below zero"
        month = MonthBilled(month.usage + usage, month.fees + fee)
        assert month.usage + month.fees == max(month.usage, minimum)


@st.composite
def settlements(draw: st.DrawFn) -> tuple[str, Decimal, list[tuple[str, Decimal]]]:
    currency = draw(st.sampled_from(CURRENCIES))
    total = draw(money(currency))
    steps = draw(
        st.lists(st.tuples(st.sampled_from(["payment", "credit"]), money(currency)), max_size=12)
    )
    return currency, total, steps


@EXAMPLES
@given(settlements())
def test_credit_notes_and_payments_reconcile_to_the_amount_due(
    case: tuple[str, Decimal, list[tuple[str, Decimal]]],
) -> None:
    """Apply each payment or credit the rules accept; what is due is always the total less
    what was accepted, never negative, and nothing is due exactly when it is all settled."""
    currency, total, steps = case
    paid = credited = Decimal(0)
    for kind, amount in steps:
        due = amount_due(InvoiceStatus.FINALIZED, total, credited, paid)
        errors = settlement_errors("amount", amount, due, currency, kind)
        if amount <= 0 or amount > due:
            assert errors, (amount, due)
            continue
        assert errors == []
        if kind == "payment":
            paid += amount
        else:
            credited += amount
    due = amount_due(InvoiceStatus.FINALIZED, total, credited, paid)
    assert due == total - credited - paid
    assert due >= 0
    assert (due == 0) == (credited + paid == total)
    assert amount_due(InvoiceStatus.VOID, total, credited, paid) == 0, "a void invoice is owed"


def test_a_credit_note_is_an_amount_or_lines_never_both_and_never_more_than_is_due() -> None:
    due = Decimal("34.50")
    assert credit_amount(None, [Decimal(10), Decimal("5.50")], due, "EUR") == Decimal("15.50")
    assert credit_amount(Decimal("34.50"), None, due, "EUR") == due
    cases: list[tuple[Decimal | None, list[Decimal] | None, list[str]]] = [
        (Decimal("34.51"), None, ["amount"]),
        (None, [Decimal(-1), Decimal("0.001")], ["lines[0].amount", "lines[1].amount"]),
        (None, [Decimal(30), Decimal(5)], ["lines"]),
        (None, None, ["amount"]),
        (Decimal(1), [Decimal(1)], ["amount"]),
    ]
    for amount, lines, fields in cases:
        with pytest.raises(Invalid) as refused:
            credit_amount(amount, lines, due, "EUR")
        assert [error.field for error in refused.value.errors] == fields


def test_a_payment_beyond_what_is_due_or_in_the_future_is_refused_saying_so() -> None:
    check_payment(Decimal("100.00"), Decimal("100.00"), "EUR")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    check_payment(Decimal("1"), Decimal("100.00"), "EUR", now + timedelta(minutes=5), now)
    with pytest.raises(Invalid) as future:
        check_payment(Decimal("1"), Decimal("100.00"), "EUR", now + timedelta(hours=1), now)
    assert [e.field for e in future.value.errors] == ["paid_at"]
    with pytest.raises(Invalid, match=r"a payment of 100\.01 exceeds the 100\.00 EUR still due"):
        check_payment(Decimal("100.01"), Decimal("100.00"), "EUR")
    # What is due as the invoice's columns keep it, to 4 places: said to the minor unit.
    with pytest.raises(Invalid, match=r"a payment of 200\.00 exceeds the 121\.00 EUR still due"):
        check_payment(Decimal("200.00"), Decimal("121.0000"), "EUR")
    with pytest.raises(Invalid, match=r"a credit of 6000 exceeds the 5000 JPY still due$"):
        credit_amount(Decimal(6000), None, Decimal("5000.0000"), "JPY")


def test_each_action_needs_its_status_and_only_a_finalized_invoice_is_overdue() -> None:
    ensure_status(JOB, InvoiceStatus.DRAFT, "voiding", InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED)
    with pytest.raises(Conflict, match="is paid; voiding needs it draft or finalized"):
        ensure_status(
            JOB, InvoiceStatus.PAID, "voiding", InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED
        )
    today = date(2026, 4, 1)
    assert overdue(InvoiceStatus.FINALIZED, today - timedelta(days=1), today)
    assert not overdue(InvoiceStatus.FINALIZED, today, today)
    assert not overdue(InvoiceStatus.PAID, today - timedelta(days=1), today)
    assert not overdue(InvoiceStatus.DRAFT, None, today)
