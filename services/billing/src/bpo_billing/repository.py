"""Every query of the billing service."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain import LineKind
from bpo_billing.models import (
    BillableJob,
    CreditNote,
    Earning,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PieceRate,
    PriceBook,
    Series,
    SlaCredit,
    UsageLine,
    VolumeCounter,
)
from bpo_common.contracts import TaskKind
from bpo_common.db import advisory_lock
from bpo_common.pagination import PageRequest

# Jobs


async def add_billable_job(session: AsyncSession, job: BillableJob) -> None:
    """Keep a job's terms; a job already known (a copy of its event) is left as it is."""
    if await session.get(BillableJob, job.job_id) is None:
        session.add(job)


async def get_billable_job(
    session: AsyncSession, job_id: UUID, scope: UUID | None
) -> BillableJob | None:
    query = select(BillableJob).where(BillableJob.job_id == job_id)
    if scope is not None:
        query = query.where(BillableJob.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


# Price books


async def lock_client(
    session: AsyncSession, client_id: UUID, purpose: str, *, shared: bool = False
) -> None:
    """Serialize one kind of work on one client (price book versions, invoice drafts) for
    the rest of the transaction; shared holders only keep the exclusive one out."""
    await advisory_lock(session, f"billing:{purpose}:{client_id}", shared=shared)


async def price_books(session: AsyncSession, client_id: UUID) -> list[PriceBook]:
    query = select(PriceBook).where(PriceBook.client_id == client_id).order_by(PriceBook.version)
    return list((await session.execute(query)).scalars())


async def add_price_book(session: AsyncSession, book: PriceBook) -> None:
    session.add(book)
    await session.flush()


async def price_book_at(session: AsyncSession, client_id: UUID, day: date) -> PriceBook | None:
    """The version in force on `day`; before the first version, the first version."""
    query = (
        select(PriceBook)
        .where(PriceBook.client_id == client_id)
        .order_by((PriceBook.effective_from <= day).desc(), PriceBook.effective_from.desc())
        .limit(1)
    )
    book = (await session.execute(query)).scalar_one_or_none()
    if book is None or book.effective_from <= day:
        return book
    first = select(PriceBook).where(PriceBook.client_id == client_id).order_by(PriceBook.version)
    return (await session.execute(first.limit(1))).scalar_one()


async def get_price_book(session: AsyncSession, book_id: UUID) -> PriceBook:
    return (await session.execute(select(PriceBook).where(PriceBook.id == book_id))).scalar_one()


async def next_ordinal(session: AsyncSession, client_id: UUID, work_type: str, month: date) -> int:
    """Count one more item of the month and return its number (the row stays locked)."""
    statement = (
        insert(VolumeCounter)
        .values(client_id=client_id, work_type=work_type, month=month, items=1)
        .on_conflict_do_update(
            index_elements=["client_id", "work_type", "month"],
            set_={"items": VolumeCounter.items + 1},
        )
        .returning(VolumeCounter.items)
    )
    return int((await session.execute(statement)).scalar_one())


# Usage


async def usage_line_exists(session: AsyncSession, item_id: UUID) -> bool:
    query = select(literal(1)).where(UsageLine.item_id == item_id)
    return (await session.execute(query)).first() is not None


async def add_usage_line(session: AsyncSession, line: UsageLine) -> None:
    session.add(line)
    await session.flush()


async def unpriced_usage(
    session: AsyncSession, client_id: UUID, work_types: list[str]
) -> list[UsageLine]:
    query = (
        select(UsageLine)
        .where(
            UsageLine.client_id == client_id,
            UsageLine.amount.is_(None),
            UsageLine.work_type.in_(work_types),
        )
        .order_by(UsageLine.completed_at, UsageLine.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def jobs(session: AsyncSession, job_ids: set[UUID]) -> dict[UUID, BillableJob]:
    query = select(BillableJob).where(BillableJob.job_id.in_(job_ids))
    return {job.job_id: job for job in (await session.execute(query)).scalars()}


async def list_usage(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
    page: PageRequest,
) -> list[UsageLine]:
    query = select(UsageLine).order_by(UsageLine.id).limit(page.limit + 1)
    if scope is not None:
        query = query.where(UsageLine.client_id == scope)
    if client_id is not None:
        query = query.where(UsageLine.client_id == client_id)
    if since is not None:
        query = query.where(UsageLine.completed_at >= since)
    if until is not None:
        query = query.where(UsageLine.completed_at < until)
    if page.after is not None:
        query = query.where(UsageLine.id > page.after)
    return list((await session.execute(query)).scalars())


# Invoices


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


def _issued_to(client_id: UUID) -> tuple[ColumnElement[bool], ...]:
    """What a client sees of invoices: its own, once issued. A draft is the back office's
    until it is finalized, and may still change or be voided."""
    return Invoice.client_id == client_id, Invoice.status != InvoiceStatus.DRAFT


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


async def claim_usage(
    session: AsyncSession, invoice_id: UUID, client_id: UUID, until: datetime
) -> Sequence[Any]:
    """Mark every unbilled, priced usage line completed before `until` as billed on the
    invoice, and return them aggregated by job, work type and price: one statement, so the
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
        .returning(UsageLine.job_id, UsageLine.work_type, UsageLine.amount)
        .cte("claimed")
    )
    query = (
        select(
            claimed.c.job_id,
            claimed.c.work_type,
            BillableJob.external_ref,
            claimed.c.amount.label("unit_price"),
            func.count().label("quantity"),
            func.sum(claimed.c.amount).label("exact_sum"),
        )
        .select_from(claimed)
        .outerjoin(BillableJob, BillableJob.job_id == claimed.c.job_id)
        .group_by(claimed.c.job_id, claimed.c.work_type, BillableJob.external_ref, claimed.c.amount)
        .order_by(claimed.c.job_id, claimed.c.work_type, claimed.c.amount)
    )
    return (await session.execute(query)).all()


async def claim_sla_credits(
    session: AsyncSession, invoice_id: UUID, client_id: UUID, until: datetime
) -> Sequence[Any]:
    """Apply the pending SLA credits of jobs completed before `until` whose items are
    invoiced (on this draft, whose usage lines must be stored first, or on an invoice not
    void): (job_id, external_ref, due_at, completed_at, billed)."""
    billed = (
        select(func.sum(InvoiceLine.amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.job_id == SlaCredit.job_id,
            InvoiceLine.kind == LineKind.USAGE,
            Invoice.status != InvoiceStatus.VOID,
        )
        .scalar_subquery()
    )
    claimed = (
        update(SlaCredit)
        .where(
            SlaCredit.client_id == client_id,
            SlaCredit.invoice_id.is_(None),
            SlaCredit.completed_at < until,
            billed.is_not(None),
        )
        .values(invoice_id=invoice_id)
        .returning(
            SlaCredit.job_id, SlaCredit.due_at, SlaCredit.completed_at, billed.label("billed")
        )
        .cte("claimed_credit")
    )
    query = (
        select(
            claimed.c.job_id,
            BillableJob.external_ref,
            claimed.c.due_at,
            claimed.c.completed_at,
            claimed.c.billed,
        )
        .select_from(claimed)
        .outerjoin(BillableJob, BillableJob.job_id == claimed.c.job_id)
        .order_by(claimed.c.job_id)
    )
    return (await session.execute(query)).all()


async def add_invoice_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
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
    """A voided invoice gives its usage and SLA credits back to the next draft."""
    await session.execute(
        update(UsageLine)
        .where(UsageLine.client_id == invoice.client_id, UsageLine.invoice_id == invoice.id)
        .values(invoice_id=None)
    )
    await session.execute(
        update(SlaCredit).where(SlaCredit.invoice_id == invoice.id).values(invoice_id=None)
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


async def credit_notes(session: AsyncSession, invoice_id: UUID) -> list[CreditNote]:
    query = select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)
    return list((await session.execute(query)).scalars())


async def payments(session: AsyncSession, invoice_id: UUID) -> list[Payment]:
    query = select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id)
    return list((await session.execute(query)).scalars())


async def add(session: AsyncSession, row: CreditNote | Payment | SlaCredit | Earning) -> None:
    session.add(row)
    await session.flush()


async def list_invoices(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    status: InvoiceStatus | None,
    page: PageRequest,
) -> list[Invoice]:
    query = select(Invoice).order_by(Invoice.id).limit(page.limit + 1)
    if scope is not None:
        query = query.where(*_issued_to(scope))
    if client_id is not None:
        query = query.where(Invoice.client_id == client_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    if page.after is not None:
        query = query.where(Invoice.id > page.after)
    return list((await session.execute(query)).scalars())


async def sla_credit_exists(session: AsyncSession, job_id: UUID) -> bool:
    query = select(literal(1)).where(SlaCredit.job_id == job_id)
    return (await session.execute(query)).first() is not None


# Contractors


async def piece_rates(session: AsyncSession, work_type: str | None = None) -> list[PieceRate]:
    query = select(PieceRate).order_by(PieceRate.work_type, PieceRate.kind)
    if work_type is not None:
        query = query.where(PieceRate.work_type == work_type)
    return list((await session.execute(query)).scalars())


async def get_piece_rate(session: AsyncSession, work_type: str, kind: TaskKind) -> PieceRate | None:
    query = select(PieceRate).where(PieceRate.work_type == work_type, PieceRate.kind == kind)
    return (await session.execute(query)).scalar_one_or_none()


async def upsert_piece_rates(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    statement = insert(PieceRate)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["work_type", "kind"],
            set_={
                "amount": statement.excluded.amount,
                "currency": statement.excluded.currency,
                "updated_at": statement.excluded.updated_at,
            },
        ),
        rows,
    )


async def earning_exists(session: AsyncSession, task_id: UUID) -> bool:
    query = select(literal(1)).where(Earning.task_id == task_id)
    return (await session.execute(query)).first() is not None


async def unpriced_earnings(session: AsyncSession, work_type: str) -> list[Earning]:
    query = (
        select(Earning)
        .where(Earning.work_type == work_type, Earning.amount.is_(None))
        .order_by(Earning.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def earnings_by_group(
    session: AsyncSession, contractor_id: UUID, since: datetime, until: datetime
) -> Sequence[Any]:
    query = (
        select(
            Earning.work_type,
            Earning.kind,
            Earning.outcome,
            Earning.rate,
            Earning.currency,
            func.count().label("tasks"),
            func.sum(Earning.amount).label("amount"),
        )
        .where(
            Earning.contractor_id == contractor_id,
            Earning.earned_at >= since,
            Earning.earned_at < until,
        )
        .group_by(Earning.work_type, Earning.kind, Earning.outcome, Earning.rate, Earning.currency)
        .order_by(Earning.work_type, Earning.kind, Earning.outcome, Earning.rate)
    )
    return (await session.execute(query)).all()


# Margin


async def margin_by_job(
    session: AsyncSession, client_id: UUID | None, since: datetime, until: datetime
) -> Sequence[Any]:
    """(client_id, job_id, currency, revenue, cost) per job with usage or earnings."""
    revenue_query = select(
        UsageLine.client_id,
        UsageLine.job_id,
        func.max(UsageLine.currency).label("currency"),
        func.sum(UsageLine.amount).label("revenue"),
    ).where(
        UsageLine.amount.is_not(None),
        UsageLine.completed_at >= since,
        UsageLine.completed_at < until,
    )
    cost_query = select(
        Earning.client_id,
        Earning.job_id,
        func.sum(Earning.amount).label("cost"),
    ).where(Earning.amount.is_not(None), Earning.earned_at >= since, Earning.earned_at < until)
    if client_id is not None:
        revenue_query = revenue_query.where(UsageLine.client_id == client_id)
        cost_query = cost_query.where(Earning.client_id == client_id)
    revenue = revenue_query.group_by(UsageLine.client_id, UsageLine.job_id).subquery()
    cost = cost_query.group_by(Earning.client_id, Earning.job_id).subquery()
    query = (
        select(
            func.coalesce(revenue.c.client_id, cost.c.client_id).label("client_id"),
            func.coalesce(revenue.c.job_id, cost.c.job_id).label("job_id"),
            revenue.c.currency,
            func.coalesce(revenue.c.revenue, 0).label("revenue"),
            func.coalesce(cost.c.cost, 0).label("cost"),
        )
        .select_from(revenue)
        .join(
            cost,
            and_(revenue.c.client_id == cost.c.client_id, revenue.c.job_id == cost.c.job_id),
            full=True,
        )
        .order_by("client_id", "job_id")
    )
    return (await session.execute(query)).all()
