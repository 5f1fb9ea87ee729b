"""Invoices: drafts claiming usage and the credits of jobs that fell short, numbering, lines,
credit notes, payments."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, RowMapping, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bpo_billing.domain.invoices import (
    CreditedJob,
    InvoiceStatus,
    JobBelowTarget,
    LateJob,
    Line,
    LineKind,
    UsageGroup,
)
from bpo_billing.domain.minimum_fee import MonthBilled
from bpo_billing.domain.periods import month_after
from bpo_billing.models import (
    AccuracyCredit,
    BillableJob,
    CreditNote,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    JobCredit,
    Payment,
    Series,
    SlaCredit,
    UsageLine,
)
from bpo_common.db import among
from bpo_common.pagination import PageRequest, paginate


async def add_invoice(session: AsyncSession, invoice: Invoice) -> None:
    session.add(invoice)
    await session.flush()


async def get_invoice(
    session: AsyncSession, invoice_id: UUID, scope: UUID | None, *, lock: bool = False
) -> Invoice | None:
    query = select(Invoice).where(Invoice.id == invoice_id)
    if scope is not None:
        query = query.where(*_issued_to(scope))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def client_of(session: AsyncSession, invoice_id: UUID) -> UUID | None:
    """The invoice's client, read without a lock."""
    query = select(Invoice.client_id).where(Invoice.id == invoice_id)
    return (await session.execute(query)).scalar_one_or_none()


def _issued_to(client_id: UUID) -> tuple[ColumnElement[bool], ...]:
    """What a client sees of invoices: its own, once issued. A draft is the back office's
    until it is finalized, and may still change or be voided (and stays unseen, void)."""
    return Invoice.client_id == client_id, Invoice.finalized_at.is_not(None)


async def issued_among(
    session: AsyncSession, client_id: UUID, invoice_ids: Sequence[UUID]
) -> set[UUID]:
    """Those of the invoices the client sees (see `_issued_to`)."""
    query = select(Invoice.id).where(among(Invoice.id, invoice_ids), *_issued_to(client_id))
    return set((await session.execute(query)).scalars())


async def open_draft(
    session: AsyncSession, client_id: UUID, period_start: date, period_end: date
) -> Invoice | None:
    query = select(Invoice).where(
        Invoice.client_id == client_id,
        Invoice.status == InvoiceStatus.DRAFT,
        Invoice.period_start == period_start,
        Invoice.period_end == period_end,
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


# What counts towards the minimum monthly fee: what a client's items and resolved exceptions
# cost.
_TOWARDS_MINIMUM = (LineKind.USAGE, LineKind.EXCEPTION)


async def billed_in_month(
    session: AsyncSession, client_id: UUID, month: date, but: UUID
) -> MonthBilled:
    """What the client's other invoices not void whose period ends in `month` (its first day)
    bill towards the minimum monthly fee, and the fees they charged."""

    def total(kinds: Sequence[LineKind]) -> ColumnElement[Decimal]:
        return func.coalesce(func.sum(InvoiceLine.amount).filter(InvoiceLine.kind.in_(kinds)), 0)

    query = (
        select(total(_TOWARDS_MINIMUM), total([LineKind.MINIMUM_FEE]))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.client_id == client_id,
            Invoice.id != but,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.period_end >= month,
            Invoice.period_end < month_after(month),
        )
    )
    usage, fees = (await session.execute(query)).one()
    return MonthBilled(usage=Decimal(usage), fees=Decimal(fees))


async def claim_usage(
    session: AsyncSession, invoice_id: UUID, client_id: UUID, until: datetime
) -> list[UsageGroup]:
    """Mark every unbilled, priced usage line completed before `until` as billed on the
    invoice, and return them aggregated by job, work type, kind and price: one statement, so the
    lines claimed are exactly the lines counted, and none of them travels to Python."""
    claimed = (
        update(UsageLine)
        .where(
            UsageLine.client_id == client_id,
            UsageLine.invoice_id.is_(None),
            UsageLine.amount.is_not(None),
            UsageLine.completed_at < until,
        )
        .values(invoice_id=invoice_id)
        .returning(UsageLine.job_id, UsageLine.work_type, UsageLine.kind, UsageLine.amount)
        .cte("claimed")
    )
    query = (
        select(
            claimed.c.job_id,
            claimed.c.work_type,
            claimed.c.kind,
            BillableJob.external_ref,
            claimed.c.amount.label("unit_price"),
            func.count().label("quantity"),
            func.sum(claimed.c.amount).label("exact_sum"),
        )
        .select_from(claimed)
        .outerjoin(BillableJob, BillableJob.job_id == claimed.c.job_id)
        .group_by(
            claimed.c.job_id,
            claimed.c.work_type,
            claimed.c.kind,
            BillableJob.external_ref,
            claimed.c.amount,
        )
        .order_by(claimed.c.job_id, claimed.c.work_type, claimed.c.kind, claimed.c.amount)
    )
    return [UsageGroup(**row._mapping) for row in await session.execute(query)]


async def claim_sla_credits(
    session: AsyncSession, invoice_id: UUID, client_id: UUID, until: datetime
) -> list[LateJob]:
    """Apply the pending SLA credits of jobs completed before `until` (see _claim_credits)."""
    credit = SlaCredit
    facts = (credit.due_at, credit.completed_at)
    rows = await _claim_credits(
        session, credit, credit.completed_at, facts, invoice_id, client_id, until
    )
    return [LateJob(**row) for row in rows]


async def claim_accuracy_credits(
    session: AsyncSession, invoice_id: UUID, client_id: UUID, until: datetime
) -> list[JobBelowTarget]:
    """Apply the pending accuracy credits of jobs decided below their target before `until`
    (see _claim_credits)."""
    credit = AccuracyCredit
    facts = (credit.target_accuracy, credit.estimate, credit.assured)
    rows = await _claim_credits(
        session, credit, credit.decided_at, facts, invoice_id, client_id, until
    )
    return [JobBelowTarget(**row) for row in rows]


async def _claim_credits(
    session: AsyncSession,
    credit: type[JobCredit],
    at: InstrumentedAttribute[datetime],
    facts: tuple[InstrumentedAttribute[Any], ...],
    invoice_id: UUID,
    client_id: UUID,
    until: datetime,
) -> list[RowMapping]:
    """Apply the client's pending credits of one kind whose job fell short (`at`) before
    `until` and whose items are invoiced (on this draft, whose usage lines must be stored
    first, or on an invoice not void): each job's id, external ref, the credit's `facts` and
    what the job's items were billed, in one statement."""
    billed = (
        select(func.sum(InvoiceLine.amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.job_id == credit.job_id,
            InvoiceLine.kind == LineKind.USAGE,
            Invoice.status != InvoiceStatus.VOID,
        )
        .scalar_subquery()
    )
    claimed = (
        update(credit)
        .where(
            credit.client_id == client_id,
            credit.invoice_id.is_(None),
            at < until,
            billed.is_not(None),
        )
        .values(invoice_id=invoice_id)
        .returning(credit.job_id, *facts, billed.label("billed"))
        .cte("claimed_credit")
    )
    query = (
        select(
            claimed.c.job_id,
            BillableJob.external_ref,
            *(claimed.c[fact.key] for fact in facts),
            claimed.c.billed,
        )
        .select_from(claimed)
        .outerjoin(BillableJob, BillableJob.job_id == claimed.c.job_id)
        .order_by(claimed.c.job_id)
    )
    return list((await session.execute(query)).mappings())


async def add_invoice_lines(
    session: AsyncSession, invoice_id: UUID, lines: Sequence[Line], *, first_position: int = 1
) -> None:
    rows = [
        {"invoice_id": invoice_id, "position": position, **asdict(line)}
        for position, line in enumerate(lines, start=first_position)
    ]
    if rows:
        await session.execute(insert(InvoiceLine), rows)


async def invoice_lines(session: AsyncSession, invoice_id: UUID) -> list[InvoiceLine]:
    query = (
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
    )
    return list((await session.execute(query)).scalars())


async def release_invoice(session: AsyncSession, invoice: Invoice) -> None:
    """A voided invoice gives its usage and its jobs' credits back to the next draft."""
    await session.execute(
        update(UsageLine)
        .where(UsageLine.client_id == invoice.client_id, UsageLine.invoice_id == invoice.id)
        .values(invoice_id=None)
    )
    for credit in (SlaCredit, AccuracyCredit):
        await session.execute(
            update(credit).where(credit.invoice_id == invoice.id).values(invoice_id=None)
        )


async def defer_credits(
    session: AsyncSession, invoice_id: UUID, jobs: Sequence[CreditedJob]
) -> None:
    """Give credits a draft claimed back, to wait for a later draft."""
    for credit, kind in (
        (SlaCredit, LineKind.SLA_CREDIT),
        (AccuracyCredit, LineKind.ACCURACY_CREDIT),
    ):
        job_ids = [job.job_id for job in jobs if job.kind is kind]
        if job_ids:
            await session.execute(
                update(credit)
                .where(credit.invoice_id == invoice_id, among(credit.job_id, job_ids))
                .values(invoice_id=None)
            )


async def next_number(session: AsyncSession, series: Series, year: int) -> str:
    """The next number of the year's series. The counter row stays locked until the
    transaction ends, so concurrent documents queue here; a rollback gives the number back."""
    statement = (
        insert(InvoiceCounter)
        .values(series=series.value, year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=["series", "year"],
            set_={"last_number": InvoiceCounter.last_number + 1},
        )
        .returning(InvoiceCounter.last_number)
    )
    return series.number(year, int((await session.execute(statement)).scalar_one()))


async def add_settlement(session: AsyncSession, row: CreditNote | Payment) -> None:
    session.add(row)
    await session.flush()


async def credit_notes(session: AsyncSession, invoice_id: UUID) -> list[CreditNote]:
    query = select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)
    return list((await session.execute(query)).scalars())


async def payments(session: AsyncSession, invoice_id: UUID) -> list[Payment]:
    query = select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id)
    return list((await session.execute(query)).scalars())


async def list_invoices(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    status: InvoiceStatus | None,
    page: PageRequest,
) -> list[Invoice]:
    query = select(Invoice)
    if scope is not None:
        query = query.where(*_issued_to(scope))
    if client_id is not None:
        query = query.where(Invoice.client_id == client_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    return list((await session.execute(paginate(query, Invoice.id, page))).scalars())
