"""The usage ledger: one line per completed item, priced by the book in force when it
completed, or by the first later one that lists its work type, or kept unpriced until a
version covers it; and one per match exception the
client's own people resolved, when the book in force then prices exceptions."""

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.invoices import UsageKind
from bpo_billing.domain.money import MOST_LEDGER, exact_price, ledger, plain
from bpo_billing.domain.periods import day_of, end_of, month_of, start_of
from bpo_billing.domain.price_books import covering, price_item, sla_hours, taken_effect
from bpo_billing.models import BillableJob, PriceBook, UsageLine
from bpo_billing.repository import WAITING_CHUNK, invoices, jobs, lock_client, price_books
from bpo_billing.repository import usage as repository
from bpo_billing.schemas import RateIn, RushIn, UsageLineOut
from bpo_common.clock import utcnow
from bpo_common.contracts import billing
from bpo_common.contracts.intake import ItemCompleted
from bpo_common.contracts.validation import ExceptionResolved
from bpo_common.errors import Conflict
from bpo_common.events import STORED, Waiting
from bpo_common.ids import new_id
from bpo_common.inbox import first_of_each
from bpo_common.money import minor_units
from bpo_common.outbox import publish, publish_each, publish_many
from bpo_common.pagination import Page, PageRequest, make_page


class JobNotKnownYet(Waiting):
    """An item completed before its job reached billing: the consumer retries it shortly."""


async def record_items_completed(session: AsyncSession, events: list[ItemCompleted]) -> None:
    """One usage line per completed item, priced by the book in force at completion (or, when
    that one does not list its work type, by the first later one that does: domain.price_books.
    covering).

        Control (golden) items are not billed; rejected items never arrive here. An item the
        client's prices do not cover (no price book yet, or its work type not listed) is kept
        unpriced, never invoiced, until a price book version covers it. A run of items is priced
        together: one read of what is known, one insert of the lines, one count per month.
    """
    billable = first_of_each([e for e in events if not e.golden], lambda event: event.item_id)
    known = await repository.items_with_usage(session, [event.item_id for event in billable])
    fresh = [event for event in billable if event.item_id not in known]
    if not fresh:
        return
    terms = await jobs.jobs_by_id(session, {event.job_id for event in fresh})
    missing = sorted({str(event.job_id) for event in fresh if event.job_id not in terms})
    if missing:
        raise JobNotKnownYet(f"jobs {', '.join(missing)} have not reached billing yet")
    now = utcnow()
    lines = [
        UsageLine(
            id=new_id(),
            kind=UsageKind.ITEM,
            item_id=event.item_id,
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            fields=event.fields,
            completed_at=event.completed_at,
            recorded_at=now,
        )
        for event in fresh
    ]
    versions: dict[UUID, list[PriceBook]] = {}
    for client_id in sorted({line.client_id for line in lines}):
        # A price book being added now either sees these lines or is seen by them.
        await lock_client(session, client_id, "price-book", shared=True)
        versions[client_id] = await price_books.price_books(session, client_id)
    priced = [
        (line, book)
        for line in lines
        if (book := covering(versions[line.client_id], day_of(line.completed_at), line.work_type))
        is not None
    ]
    recorded = await _price(session, priced, terms)
    await repository.add_usage_lines(session, lines)
    await publish_each(session, [(event, event.client_id) for event in recorded])


async def record_exception_resolved(session: AsyncSession, event: ExceptionResolved) -> None:
    """A match exception the client's own people resolved is one usage line at the price per
    exception of the book in force when it was resolved, and is billed once however often
    it is announced. Resolved by the back office, or under a book without that price, it
    costs nothing: unlike an item, it does not wait for a later version to price it, nor is
    it priced by the first version when resolved before that took effect."""
    if not event.by_client:
        return
    versions = await price_books.price_books(session, event.client_id)
    book = taken_effect(versions, day_of(event.resolved_at))
    if book is None or book.per_exception is None:
        return
    if await repository.exception_billed(session, event.exception_id):
        return
    job = await jobs.get_billable_job(session, event.job_id, None)
    if job is None:
        raise JobNotKnownYet(f"job {event.job_id} has not reached billing yet")
    now, amount = utcnow(), ledger(book.per_exception)
    line = UsageLine(
        id=new_id(),
        kind=UsageKind.EXCEPTION,
        item_id=event.item_id,
        exception_id=event.exception_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=job.work_type,
        fields=0,
        completed_at=event.resolved_at,
        price_book_id=book.id,
        unit_price=book.per_exception,
        field_price=Decimal(0),
        rush_pct=Decimal(0),
        amount=amount,
        currency=book.currency,
        recorded_at=now,
        priced_at=now,
    )
    await repository.add_usage_lines(session, [line])
    recorded = billing.UsageRecorded(
        usage_id=line.id,
        item_id=line.item_id,
        job_id=line.job_id,
        client_id=line.client_id,
        work_type=line.work_type,
        amount=plain(amount),
        currency=book.currency,
        completed_at=line.completed_at,
        recorded_at=now,
    )
    await publish(session, recorded, client_id=event.client_id)


async def price_waiting_usage(
    session: AsyncSession, book: PriceBook, versions: Sequence[PriceBook]
) -> None:
    """Price the client's unpriced usage of the work types a new version (`book`, one of the
    client's `versions`) lists, where it covers it as it would an item completed now
    (domain.price_books.covering): in force on the item's day, or the first after it to list
    the type. An item of a day that another version rules without its type waits on: what
    prices an item does not hang on whether it completed before or after a version was put.

    A chunk of lines at a time, in the order they completed, each written and announced
    before the next is read: a backlog of any size costs the memory of one chunk, and the
    month's counts number the lines as they would in one go. All in the caller's
    transaction: the version and every price it sets commit together or not at all."""
    after: tuple[datetime, UUID] | None = None
    while lines := await repository.unpriced_usage(
        session, book.client_id, list(book.rates), after, WAITING_CHUNK
    ):
        after = (lines[-1].completed_at, lines[-1].id)
        priced = [
            (line, covered)
            for line in lines
            if (covered := covering(versions, day_of(line.completed_at), line.work_type))
            is not None
        ]
        if not priced:
            continue
        terms = await jobs.jobs_by_id(session, {line.job_id for line, _ in priced})
        events = await _price(session, priced, terms)
        await repository.write_priced(session, [line for line, _ in priced])
        await publish_many(session, events, client_id=book.client_id)


async def _price(
    session: AsyncSession,
    priced: list[tuple[UsageLine, PriceBook]],
    terms: dict[UUID, BillableJob],
) -> list[billing.UsageRecorded]:
    """Price lines in order: each its tier by the month's running count, per field, rush
    surcharge. The month's count moves once per client, work type and month."""
    ordinals: dict[tuple[UUID, str, date], int] = {}
    for line, _ in priced:
        key = (line.client_id, line.work_type, month_of(line.completed_at))
        ordinals[key] = ordinals.get(key, 0) + 1
    for key, count in list(ordinals.items()):
        ordinals[key] = await repository.count_items(session, *key, count)
    events = []
    for line, book in priced:
        key = (line.client_id, line.work_type, month_of(line.completed_at))
        ordinal, ordinals[key] = ordinals[key], ordinals[key] + 1
        job = terms[line.job_id]
        # The version as it was accepted (STORED): a bound added to new prices since does not
        # stop one stored before it from pricing.
        price = price_item(
            RateIn.model_validate(book.rates[line.work_type], context={STORED: True}).rate(),
            ordinal,
            line.fields,
            RushIn.model_validate(book.rush, context={STORED: True}).rush() if book.rush else None,
            sla_hours(job.sla_hours, job.due_at, job.created_at),
        )
        if price.amount >= MOST_LEDGER:
            raise Conflict(
                f"client {line.client_id}'s price book version {book.version} ({book.id}) "
                f"prices item {line.item_id} of job {line.job_id} ({line.fields} fields) at "
                f"{price.amount:f} {book.currency}, more than the ledger holds "
                f"(under {MOST_LEDGER:f})"
            )
        line.price_book_id = book.id
        line.unit_price = price.unit_price
        line.field_price = price.field_price
        line.rush_pct = price.rush_pct
        line.amount = price.amount
        line.currency = book.currency
        line.priced_at = utcnow()
        events.append(
            billing.UsageRecorded(
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
        )
    return events


def usage_out(line: UsageLine, issued: set[UUID] | None = None) -> UsageLineOut:
    """A usage line as shown; to a client (`issued`: the invoices it sees), the invoice that
    holds it only once that is issued (a draft is the back office's, and may be voided)."""
    shown = issued is None or line.invoice_id in issued
    places = minor_units(line.currency) if line.currency is not None else 2
    return UsageLineOut(
        id=line.id,
        kind=line.kind,
        item_id=line.item_id,
        exception_id=line.exception_id,
        job_id=line.job_id,
        client_id=line.client_id,
        work_type=line.work_type,
        fields=line.fields,
        completed_at=line.completed_at,
        priced=line.amount is not None,
        unit_price=exact_price(line.unit_price, places) if line.unit_price is not None else None,
        field_price=exact_price(line.field_price, places) if line.field_price is not None else None,
        rush_pct=line.rush_pct,
        amount=exact_price(line.amount, places) if line.amount is not None else None,
        currency=line.currency,
        invoice_id=line.invoice_id if shown else None,
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
    if scope is None:
        return make_page(rows, page, usage_out)
    held = sorted({row.invoice_id for row in rows if row.invoice_id is not None})
    issued = await invoices.issued_among(session, scope, held)
    return make_page(rows, page, lambda line: usage_out(line, issued))
