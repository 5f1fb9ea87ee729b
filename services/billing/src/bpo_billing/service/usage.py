"""The usage ledger: one line per completed item, priced by the book in force when it
completed, or kept unpriced until a version covers it."""

from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.money import exact_price, plain
from bpo_billing.domain.periods import end_of, month_of, start_of
from bpo_billing.domain.price_books import price_item, sla_hours
from bpo_billing.models import BillableJob, PriceBook, UsageLine
from bpo_billing.repository import jobs, lock_client, price_books
from bpo_billing.repository import usage as repository
from bpo_billing.schemas import RateIn, RushIn, UsageLineOut
from bpo_common.clock import utcnow
from bpo_common.contracts import billing
from bpo_common.contracts.intake import ItemCompleted
from bpo_common.ids import new_id
from bpo_common.outbox import publish, publish_many
from bpo_common.pagination import Page, PageRequest, make_page


class JobNotKnownYet(Exception):
    """An item completed before its job reached billing: the consumer retries it shortly."""


async def record_item_completed(session: AsyncSession, event: ItemCompleted) -> None:
    """One usage line per completed item, priced by the book in force at completion.

    Control (golden) items are not billed; rejected items never arrive here. An item the
    client's prices do not cover (no price book yet, or its work type not listed) is kept
    unpriced, never invoiced, until a price book version covers it.
    """
    if event.golden or await repository.usage_line_exists(session, event.item_id):
        return
    job = await jobs.get_billable_job(session, event.job_id, None)
    if job is None:
        raise JobNotKnownYet(f"job {event.job_id} has not reached billing yet")
    line = UsageLine(
        id=new_id(),
        item_id=event.item_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=event.work_type,
        fields=event.fields,
        completed_at=event.completed_at,
        recorded_at=utcnow(),
    )
    await repository.add_usage_line(session, line)
    # A price book being added now either sees this line or is seen by it.
    await lock_client(session, event.client_id, "price-book", shared=True)
    book = await price_books.price_book_at(session, event.client_id, event.completed_at.date())
    if book is not None and line.work_type in book.rates:
        await publish(session, await _price(session, line, book, job), client_id=job.client_id)


async def price_waiting_usage(session: AsyncSession, book: PriceBook) -> None:
    """Price the client's unpriced usage of the work types a new price book version lists."""
    lines = await repository.unpriced_usage(session, book.client_id, list(book.rates))
    if not lines:
        return
    terms = await jobs.jobs_by_id(session, {line.job_id for line in lines})
    events = [await _price(session, line, book, terms[line.job_id]) for line in lines]
    await publish_many(session, events, client_id=book.client_id)


async def _price(
    session: AsyncSession, line: UsageLine, book: PriceBook, job: BillableJob
) -> billing.UsageRecorded:
    """Price one line: its tier by the month's running count, per field, rush surcharge."""
    ordinal = await repository.next_ordinal(
        session, line.client_id, line.work_type, month_of(line.completed_at)
    )
    price = price_item(
        RateIn.model_validate(book.rates[line.work_type]).rate(),
        ordinal,
        line.fields,
        RushIn.model_validate(book.rush).rush() if book.rush else None,
        sla_hours(job.sla_hours, job.due_at, job.created_at),
    )
    line.price_book_id = book.id
    line.unit_price = price.unit_price
    line.field_price = price.field_price
    line.rush_pct = price.rush_pct
    line.amount = price.amount
    line.currency = book.currency
    line.priced_at = utcnow()
    return billing.UsageRecorded(
        usage_id=line.id,
        item_id=line.item_id,
        job_id=line.job_id,
        client_id=line.client_id,
        work_type=line.work_type,
        amount=plain(price.amount),
        currency=book.currency,
        completed_at=line.completed_at,
        recorded_at=line.priced_at,
    )


def usage_out(line: UsageLine) -> UsageLineOut:
    return UsageLineOut(
        id=line.id,
        item_id=line.item_id,
        job_id=line.job_id,
        client_id=line.client_id,
        work_type=line.work_type,
        fields=line.fields,
        completed_at=line.completed_at,
        priced=line.amount is not None,
        unit_price=exact_price(line.unit_price) if line.unit_price is not None else None,
        field_price=exact_price(line.field_price) if line.field_price is not None else None,
        rush_pct=line.rush_pct,
        amount=exact_price(line.amount) if line.amount is not None else None,
        currency=line.currency,
        invoice_id=line.invoice_id,
    )


async def list_usage(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    period_start: date | None,
    period_end: date | None,
    page: PageRequest,
) -> Page[UsageLineOut]:
    rows = await repository.list_usage(
        session,
        scope,
        client_id,
        start_of(period_start) if period_start else None,
        end_of(period_end) if period_end else None,
        page,
    )
    return make_page(rows, page, usage_out)
