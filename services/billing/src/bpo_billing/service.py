"""Use cases of the billing service: price books, the usage ledger, invoices, earnings."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing import domain, repository
from bpo_billing.domain import LineKind
from bpo_billing.models import (
    BillableJob,
    CreditNote,
    Earning,
    Invoice,
    InvoiceStatus,
    Payment,
    PriceBook,
    Series,
    SlaCredit,
    UsageLine,
)
from bpo_billing.schemas import (
    ClientMargin,
    CreditNoteIn,
    CreditNoteLineIn,
    CreditNoteOut,
    EarningGroup,
    EarningsStatement,
    InvoiceDraftIn,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceSummary,
    JobMargin,
    MarginReport,
    PaymentIn,
    PaymentOut,
    PieceRatesIn,
    PieceRatesOut,
    PriceBookIn,
    PriceBookOut,
    PriceBookVersions,
    RateIn,
    RushIn,
    UsageLineOut,
)
from bpo_billing.settings import Settings
from bpo_common.auth import Principal, Role
from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind, TaskOutcome, billing
from bpo_common.contracts.intake import ItemCompleted, JobCompleted, JobCreated
from bpo_common.contracts.validation import ContractorScored
from bpo_common.errors import Conflict, FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_common.outbox import publish, publish_many
from bpo_common.pagination import Page, PageRequest, make_page


class JobNotKnownYet(Exception):
    """An item completed before its job reached billing: the consumer retries it shortly."""


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def month_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


# Jobs


async def record_job(session: AsyncSession, event: JobCreated) -> None:
    await repository.add_billable_job(
        session,
        BillableJob(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            due_at=event.due_at,
            sla_hours=event.sla_hours,
            external_ref=event.external_ref,
            created_at=event.created_at,
            received_at=utcnow(),
        ),
    )


async def job_terms(session: AsyncSession, job_id: UUID, scope: UUID | None) -> BillableJob:
    job = await repository.get_billable_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"billing knows no job {job_id}")
    return job


async def record_job_completed(session: AsyncSession, event: JobCompleted) -> None:
    """A job finished after its due time earns its client an SLA credit on the next invoice."""
    if event.due_at is None or event.completed_at <= event.due_at:
        return
    if await repository.sla_credit_exists(session, event.job_id):
        return
    await repository.add(
        session,
        SlaCredit(
            job_id=event.job_id,
            client_id=event.client_id,
            due_at=event.due_at,
            completed_at=event.completed_at,
            invoice_id=None,
            created_at=utcnow(),
        ),
    )


# Price books


def _rates(book: PriceBook) -> dict[str, domain.Rate]:
    return {work_type: RateIn.model_validate(rate).rate() for work_type, rate in book.rates.items()}


def _rush(book: PriceBook) -> domain.Rush | None:
    if book.rush is None:
        return None
    rush = RushIn.model_validate(book.rush)
    return domain.Rush(max_sla_hours=rush.max_sla_hours, surcharge_pct=rush.surcharge_pct)


def price_book_out(book: PriceBook) -> PriceBookOut:
    return PriceBookOut(
        id=book.id,
        client_id=book.client_id,
        version=book.version,
        effective_from=book.effective_from,
        currency=book.currency,
        tax_rate=domain.plain(book.tax_rate),
        rates={k: RateIn.model_validate(v) for k, v in book.rates.items()},
        rush=RushIn.model_validate(book.rush) if book.rush else None,
        minimum_monthly_fee=domain.round_money(book.minimum_monthly_fee, book.currency),
        sla_credit_pct=domain.plain(book.sla_credit_pct),
        created_at=book.created_at,
    )


async def put_price_book(
    session: AsyncSession, client_id: UUID, body: PriceBookIn, today: date
) -> PriceBook:
    """Add a version of the client's prices. Usage that waits unpriced (no price book yet, or
    its work type was not listed) is priced by this version if it lists the work type."""
    await repository.lock_client(session, client_id, "price-book")
    versions = await repository.price_books(session, client_id)
    currency = body.currency.upper()
    errors = domain.price_book_errors(
        currency,
        {work_type: rate.rate() for work_type, rate in body.rates.items()},
        body.minimum_monthly_fee,
        versions[-1].currency if versions else None,
    )
    effective_from = body.effective_from or today
    if any(v.effective_from == effective_from for v in versions):
        errors.append(
            FieldError("effective_from", f"a version already takes effect on {effective_from}")
        )
    if errors:
        raise Invalid(f"invalid price book: {', '.join(e.field for e in errors)}", errors=errors)
    book = PriceBook(
        id=new_id(),
        client_id=client_id,
        version=len(versions) + 1,
        effective_from=effective_from,
        currency=currency,
        tax_rate=body.tax_rate,
        rates={k: v.model_dump(mode="json") for k, v in body.rates.items()},
        rush=body.rush.model_dump(mode="json") if body.rush else None,
        minimum_monthly_fee=body.minimum_monthly_fee,
        sla_credit_pct=body.sla_credit_pct,
        created_at=utcnow(),
    )
    await repository.add_price_book(session, book)
    await _price_waiting_usage(session, book)
    return book


async def price_book_versions(session: AsyncSession, client_id: UUID) -> PriceBookVersions:
    books = await repository.price_books(session, client_id)
    return PriceBookVersions(client_id=client_id, data=[price_book_out(b) for b in books])


async def price_book_in_force(session: AsyncSession, client_id: UUID, day: date) -> PriceBook:
    book = await repository.price_book_at(session, client_id, day)
    if book is None:
        raise NotFound(f"client {client_id} has no price book")
    return book


# Usage


async def record_item_completed(session: AsyncSession, event: ItemCompleted) -> None:
    """One usage line per completed item, priced by the book in force at completion.

    Control (golden) items are not billed; rejected items never arrive here. An item the
    client's prices do not cover (no price book yet, or its work type not listed) is kept
    unpriced, never invoiced, until a price book version covers it.
    """
    if event.golden or await repository.usage_line_exists(session, event.item_id):
        return
    job = await repository.get_billable_job(session, event.job_id, None)
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
    await repository.lock_client(session, event.client_id, "price-book", shared=True)
    book = await repository.price_book_at(session, event.client_id, event.completed_at.date())
    if book is not None and line.work_type in book.rates:
        await publish(session, await _price(session, line, book, job), client_id=job.client_id)


async def _price_waiting_usage(session: AsyncSession, book: PriceBook) -> None:
    lines = await repository.unpriced_usage(session, book.client_id, list(book.rates))
    if not lines:
        return
    jobs = await repository.jobs(session, {line.job_id for line in lines})
    events = [await _price(session, line, book, jobs[line.job_id]) for line in lines]
    await publish_many(session, events, client_id=book.client_id)


async def _price(
    session: AsyncSession, line: UsageLine, book: PriceBook, job: BillableJob
) -> billing.UsageRecorded:
    """Price one line: its tier by the month's running count, per field, rush surcharge."""
    rate = _rates(book)[line.work_type]
    ordinal = await repository.next_ordinal(
        session, line.client_id, line.work_type, month_of(line.completed_at)
    )
    surcharge = domain.rush_pct(
        _rush(book), domain.sla_hours(job.sla_hours, job.due_at, job.created_at)
    )
    unit = domain.per_item_price(rate, ordinal)
    line.price_book_id = book.id
    line.unit_price = unit
    line.field_price = rate.per_field
    line.rush_pct = surcharge
    line.amount = domain.item_amount(unit, rate.per_field, line.fields, surcharge)
    line.currency = book.currency
    line.priced_at = utcnow()
    await session.flush()
    return billing.UsageRecorded(
        usage_id=line.id,
        item_id=line.item_id,
        job_id=line.job_id,
        client_id=line.client_id,
        work_type=line.work_type,
        amount=domain.plain(line.amount),
        currency=line.currency,
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
        unit_price=domain.exact_price(line.unit_price) if line.unit_price is not None else None,
        field_price=domain.exact_price(line.field_price) if line.field_price is not None else None,
        rush_pct=line.rush_pct,
        amount=domain.exact_price(line.amount) if line.amount is not None else None,
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
        start_of(period_end + timedelta(days=1)) if period_end else None,
        page,
    )
    return make_page(rows, page, usage_out)


# Invoices


async def draft_invoice(session: AsyncSession, body: InvoiceDraftIn) -> tuple[Invoice, bool]:
    """A draft from the client's unbilled usage up to the end of the period; (invoice, new).

    Runs for one client queue on a lock, so two runs at once give one draft: the second
    finds the first's and returns it. Usage completed before the period that was not billed
    yet (it arrived late) is billed here.
    """
    await repository.lock_client(session, body.client_id, "draft")
    existing = await repository.open_draft(
        session, body.client_id, body.period_start, body.period_end
    )
    if existing is not None:
        return existing, False
    book = await repository.price_book_at(session, body.client_id, body.period_end)
    if book is None:
        raise Conflict(f"client {body.client_id} has no price book; PUT one before invoicing")
    currency = book.currency
    until = start_of(body.period_end + timedelta(days=1))
    invoice = Invoice(
        id=new_id(),
        client_id=body.client_id,
        number=None,
        status=InvoiceStatus.DRAFT,
        currency=currency,
        period_start=body.period_start,
        period_end=body.period_end,
        price_book_id=book.id,
        tax_rate=book.tax_rate,
        subtotal=Decimal(0),
        tax=Decimal(0),
        total=Decimal(0),
        amount_credited=Decimal(0),
        amount_paid=Decimal(0),
        created_at=utcnow(),
    )
    await repository.add_invoice(session, invoice)
    lines: list[dict[str, Any]] = []

    def add_line(
        kind: LineKind,
        description: str,
        quantity: int,
        unit: Decimal,
        amount: Decimal,
        job_id: UUID | None = None,
        work_type: str | None = None,
    ) -> None:
        lines.append(
            {
                "invoice_id": invoice.id,
                "position": len(lines) + 1,
                "kind": kind,
                "job_id": job_id,
                "work_type": work_type,
                "description": description,
                "quantity": quantity,
                "unit_price": unit,
                "amount": amount,
            }
        )

    for group in await repository.claim_usage(session, invoice.id, body.client_id, until):
        add_line(
            LineKind.USAGE,
            f"{group.work_type} items, job {group.external_ref or group.job_id}",
            group.quantity,
            domain.exact_price(group.unit_price),
            domain.line_amount(group.exact_sum, currency),
            group.job_id,
            group.work_type,
        )
    # Stored before the SLA credits, which are computed from the invoiced lines of a job.
    await repository.add_invoice_lines(session, lines)
    usage_subtotal = sum((line["amount"] for line in lines), Decimal(0))
    stored = len(lines)
    top_up = domain.minimum_fee_top_up(usage_subtotal, book.minimum_monthly_fee, currency)
    if top_up > 0:
        fee = domain.round_money(book.minimum_monthly_fee, currency)
        add_line(
            LineKind.MINIMUM_FEE, f"Minimum monthly fee of {fee} {currency}", 1, top_up, top_up
        )
    for credit in await repository.claim_sla_credits(session, invoice.id, body.client_id, until):
        amount = domain.sla_credit(credit.billed, book.sla_credit_pct, currency)
        if amount == 0:
            continue
        late = credit.completed_at - credit.due_at
        add_line(
            LineKind.SLA_CREDIT,
            f"SLA credit {domain.plain(book.sla_credit_pct)}%: job "
            f"{credit.external_ref or credit.job_id} completed {_duration(late)} late",
            1,
            amount,
            amount,
            credit.job_id,
        )
    if not lines:
        raise Conflict(
            f"client {body.client_id} has no unbilled usage up to {body.period_end} "
            "and no minimum fee: there is nothing to invoice"
        )
    await repository.add_invoice_lines(session, lines[stored:])
    totals = domain.invoice_totals([line["amount"] for line in lines], book.tax_rate, currency)
    invoice.subtotal, invoice.tax, invoice.total = totals.subtotal, totals.tax, totals.total
    await session.flush()
    return invoice, True


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


async def _locked_invoice(session: AsyncSession, invoice_id: UUID) -> Invoice:
    invoice = await repository.get_invoice(session, invoice_id, None, lock=True)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def _refuse(invoice: Invoice, action: str, *allowed: InvoiceStatus) -> None:
    if invoice.status not in allowed:
        states = " or ".join(s.value for s in allowed)
        raise Conflict(
            f"invoice {invoice.id} is {invoice.status.value}; {action} needs it {states}"
        )


async def finalize_invoice(session: AsyncSession, invoice_id: UUID, settings: Settings) -> Invoice:
    """Give the draft the next number of this year's series and freeze it."""
    invoice = await _locked_invoice(session, invoice_id)
    _refuse(invoice, "finalizing", InvoiceStatus.DRAFT)
    now = utcnow()
    invoice.number = await repository.next_number(session, Series.INVOICE, now.year)
    invoice.status = InvoiceStatus.FINALIZED
    invoice.finalized_at = now
    invoice.due_on = now.date() + timedelta(days=settings.payment_terms_days)
    if invoice.total <= 0:
        # Nothing to collect (credits ate it all): it is settled as it is issued.
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
    await session.flush()
    await publish(
        session,
        billing.InvoiceFinalized(
            invoice_id=invoice.id,
            client_id=invoice.client_id,
            number=invoice.number,
            currency=invoice.currency,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            subtotal=domain.round_money(invoice.subtotal, invoice.currency),
            tax=domain.round_money(invoice.tax, invoice.currency),
            total=domain.round_money(invoice.total, invoice.currency),
            due_on=invoice.due_on,
            finalized_at=now,
        ),
        client_id=invoice.client_id,
    )
    if invoice.status is InvoiceStatus.PAID:
        await _announce_paid(session, invoice)
    return invoice


async def _announce_paid(session: AsyncSession, invoice: Invoice) -> None:
    assert invoice.number is not None
    assert invoice.paid_at is not None
    await publish(
        session,
        billing.InvoicePaid(
            invoice_id=invoice.id,
            client_id=invoice.client_id,
            number=invoice.number,
            currency=invoice.currency,
            total=domain.round_money(invoice.total, invoice.currency),
            paid_at=invoice.paid_at,
        ),
        client_id=invoice.client_id,
    )


async def _settle_if_nothing_due(session: AsyncSession, invoice: Invoice, when: datetime) -> None:
    if domain.amount_due(invoice.total, invoice.amount_credited, invoice.amount_paid) == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, when
        await session.flush()
        await _announce_paid(session, invoice)


async def add_payment(session: AsyncSession, invoice_id: UUID, body: PaymentIn) -> Invoice:
    """Record a payment, partial or full; more than is due is refused."""
    invoice = await _locked_invoice(session, invoice_id)
    _refuse(invoice, "a payment", InvoiceStatus.FINALIZED)
    due = domain.amount_due(invoice.total, invoice.amount_credited, invoice.amount_paid)
    errors = domain.settlement_errors("amount", body.amount, due, invoice.currency, "a payment")
    if errors:
        raise Invalid(errors[0].message, errors=errors)
    now = utcnow()
    paid_at = body.paid_at or now
    await repository.add(
        session,
        Payment(
            id=new_id(),
            invoice_id=invoice.id,
            amount=body.amount,
            reference=body.reference,
            paid_at=paid_at,
            created_at=now,
        ),
    )
    invoice.amount_paid += body.amount
    await _settle_if_nothing_due(session, invoice, paid_at)
    return invoice


async def add_credit_note(session: AsyncSession, invoice_id: UUID, body: CreditNoteIn) -> Invoice:
    """Credit part of a finalized invoice, by an amount or line by line, with a reason."""
    invoice = await _locked_invoice(session, invoice_id)
    _refuse(invoice, "a credit note", InvoiceStatus.FINALIZED)
    due = domain.amount_due(invoice.total, invoice.amount_credited, invoice.amount_paid)
    currency = invoice.currency
    errors: list[FieldError] = []
    if (body.amount is None) == (body.lines is None):
        errors.append(FieldError("amount", "give either amount or lines, not both or neither"))
    elif body.lines is not None:
        for index, line in enumerate(body.lines):
            field = f"lines[{index}].amount"
            errors += domain.money_errors(field, line.amount, currency, positive=True)
        amount = sum((line.amount for line in body.lines), Decimal(0))
        if not errors:
            errors += domain.settlement_errors("lines", amount, due, currency, "a credit")
    else:
        assert body.amount is not None
        amount = body.amount
        errors += domain.settlement_errors("amount", amount, due, currency, "a credit")
    if errors:
        raise Invalid(errors[0].message, errors=errors)
    now = utcnow()
    await repository.add(
        session,
        CreditNote(
            id=new_id(),
            invoice_id=invoice.id,
            number=await repository.next_number(session, Series.CREDIT_NOTE, now.year),
            amount=amount,
            reason=body.reason,
            lines=[line.model_dump(mode="json") for line in body.lines or []],
            created_at=now,
        ),
    )
    invoice.amount_credited += amount
    await _settle_if_nothing_due(session, invoice, now)
    return invoice


async def void_invoice(session: AsyncSession, invoice_id: UUID, reason: str) -> Invoice:
    """Void a draft, or a finalized invoice nobody has paid anything of; its usage goes
    back to be invoiced again."""
    invoice = await _locked_invoice(session, invoice_id)
    _refuse(invoice, "voiding", InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED)
    if invoice.amount_paid > 0:
        raise Conflict(f"invoice {invoice.number} has payments; credit it instead of voiding")
    now = utcnow()
    was_finalized = invoice.status is InvoiceStatus.FINALIZED
    invoice.status, invoice.voided_at, invoice.void_reason = InvoiceStatus.VOID, now, reason
    await repository.release_invoice(session, invoice)
    await session.flush()
    if was_finalized:
        assert invoice.number is not None
        await publish(
            session,
            billing.InvoiceVoided(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                number=invoice.number,
                reason=reason,
                voided_at=now,
            ),
            client_id=invoice.client_id,
        )
    return invoice


async def get_invoice(session: AsyncSession, invoice_id: UUID, scope: UUID | None) -> Invoice:
    invoice = await repository.get_invoice(session, invoice_id, scope)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def _overdue(invoice: Invoice, today: date) -> bool:
    return (
        invoice.status is InvoiceStatus.FINALIZED
        and invoice.due_on is not None
        and today > invoice.due_on
    )


def _summary(invoice: Invoice, today: date) -> InvoiceSummary:
    money = invoice.currency
    due = domain.amount_due(invoice.total, invoice.amount_credited, invoice.amount_paid)
    return InvoiceSummary(
        id=invoice.id,
        client_id=invoice.client_id,
        number=invoice.number,
        status=invoice.status,
        currency=money,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        total=domain.round_money(invoice.total, money),
        amount_due=domain.round_money(due, money),
        due_on=invoice.due_on,
        overdue=_overdue(invoice, today),
    )


async def invoice_out(session: AsyncSession, invoice: Invoice, today: date) -> InvoiceOut:
    money = invoice.currency

    def m(amount: Decimal) -> Decimal:
        return domain.round_money(amount, money)

    return InvoiceOut(
        **dict(_summary(invoice, today)),
        lines=[
            InvoiceLineOut(
                kind=line.kind,
                job_id=line.job_id,
                work_type=line.work_type,
                description=line.description,
                quantity=line.quantity,
                unit_price=domain.exact_price(line.unit_price),
                amount=m(line.amount),
            )
            for line in await repository.invoice_lines(session, invoice.id)
        ],
        subtotal=m(invoice.subtotal),
        tax_rate=domain.plain(invoice.tax_rate),
        tax=m(invoice.tax),
        credit_notes=[
            CreditNoteOut(
                id=note.id,
                number=note.number,
                amount=m(note.amount),
                reason=note.reason,
                lines=[CreditNoteLineIn.model_validate(line) for line in note.lines],
                created_at=note.created_at,
            )
            for note in await repository.credit_notes(session, invoice.id)
        ],
        payments=[
            PaymentOut(id=p.id, amount=m(p.amount), reference=p.reference, paid_at=p.paid_at)
            for p in await repository.payments(session, invoice.id)
        ],
        amount_credited=m(invoice.amount_credited),
        amount_paid=m(invoice.amount_paid),
        created_at=invoice.created_at,
        finalized_at=invoice.finalized_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
        void_reason=invoice.void_reason,
    )


async def list_invoices(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    status: InvoiceStatus | None,
    page: PageRequest,
    today: date,
) -> Page[InvoiceSummary]:
    rows = await repository.list_invoices(session, scope, client_id, status, page)
    return make_page(rows, page, lambda invoice: _summary(invoice, today))


# Contractors


async def put_piece_rates(session: AsyncSession, work_type: str, body: PieceRatesIn) -> None:
    """Set what each task kind pays on a work type; earnings waiting for a rate get priced."""
    currency = body.currency.upper()
    if currency not in domain.KNOWN_CURRENCIES:
        raise Invalid(
            "invalid piece rates: currency",
            errors=[FieldError("currency", f"{currency!r} is not an ISO 4217 currency code")],
        )
    now = utcnow()
    amounts = {TaskKind.ENTRY: body.entry, TaskKind.REVIEW: body.review}
    amounts[TaskKind.ADJUDICATION] = body.adjudication
    await repository.upsert_piece_rates(
        session,
        [
            {
                "work_type": work_type,
                "kind": kind,
                "amount": amount,
                "currency": currency,
                "updated_at": now,
            }
            for kind, amount in amounts.items()
        ],
    )
    events = []
    for earning in await repository.unpriced_earnings(session, work_type):
        events.append(_price_earning(earning, amounts[earning.kind], currency))
    await session.flush()
    await publish_many(session, events)


async def piece_rates(session: AsyncSession, work_type: str | None = None) -> list[PieceRatesOut]:
    grouped: dict[str, PieceRatesOut] = {}
    for rate in await repository.piece_rates(session, work_type):
        out = grouped.setdefault(
            rate.work_type,
            PieceRatesOut(
                work_type=rate.work_type,
                currency=rate.currency,
                entry=None,
                review=None,
                adjudication=None,
            ),
        )
        setattr(out, rate.kind.value, domain.exact_price(rate.amount))
    return list(grouped.values())


def _price_earning(earning: Earning, rate: Decimal, currency: str) -> billing.EarningRecorded:
    earning.rate = rate
    earning.amount = domain.earning_amount(rate, earning.factor)
    earning.currency = currency
    return billing.EarningRecorded(
        earning_id=earning.id,
        task_id=earning.task_id,
        contractor_id=earning.contractor_id,
        job_id=earning.job_id,
        client_id=earning.client_id,
        work_type=earning.work_type,
        kind=earning.kind.value,
        amount=domain.plain(earning.amount),
        currency=currency,
        earned_at=earning.earned_at,
    )


async def record_score(session: AsyncSession, event: ContractorScored, settings: Settings) -> None:
    """A scored task earns its piece rate: all of it when accepted, a fraction when
    overturned, nothing when the item was rejected."""
    if await repository.earning_exists(session, event.task_id):
        return
    outcome, kind = TaskOutcome(event.outcome), TaskKind(event.kind)
    earning = Earning(
        id=new_id(),
        task_id=event.task_id,
        item_id=event.item_id,
        contractor_id=event.contractor_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=event.work_type,
        kind=kind,
        outcome=outcome,
        golden=event.golden,
        factor=domain.earning_factor(outcome, settings.overturned_fraction),
        earned_at=event.decided_at,
        recorded_at=utcnow(),
    )
    rate = await repository.get_piece_rate(session, event.work_type, kind)
    recorded = _price_earning(earning, rate.amount, rate.currency) if rate else None
    await repository.add(session, earning)
    if recorded is not None:
        await publish(session, recorded, client_id=event.client_id)


def ensure_may_see_earnings(caller: Principal, contractor_id: UUID) -> None:
    """Managers see every statement; a contractor only their own."""
    if caller.role is not Role.MANAGER and caller.subject != str(contractor_id):
        raise NotFound(f"no earnings for contractor {contractor_id}")


async def earnings_statement(
    session: AsyncSession, contractor_id: UUID, period_start: date, period_end: date
) -> EarningsStatement:
    rows = await repository.earnings_by_group(
        session, contractor_id, start_of(period_start), start_of(period_end + timedelta(days=1))
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    lines, unpriced = [], 0
    for row in rows:
        amount = None
        if row.currency is None:
            unpriced += row.tasks
        else:
            amount = domain.round_money(row.amount, row.currency)
            totals[row.currency] += amount
        lines.append(
            EarningGroup(
                work_type=row.work_type,
                kind=row.kind,
                outcome=row.outcome,
                tasks=row.tasks,
                rate=domain.exact_price(row.rate) if row.rate is not None else None,
                amount=amount,
                currency=row.currency,
            )
        )
    return EarningsStatement(
        contractor_id=contractor_id,
        period_start=period_start,
        period_end=period_end,
        lines=lines,
        totals=dict(totals),
        unpriced_tasks=unpriced,
    )


# Margin


async def margin_report(
    session: AsyncSession, client_id: UUID | None, period_start: date, period_end: date
) -> MarginReport:
    """Revenue (priced usage) minus contractor cost (earnings), per client and per job."""
    rows = await repository.margin_by_job(
        session, client_id, start_of(period_start), start_of(period_end + timedelta(days=1))
    )
    clients: dict[UUID, ClientMargin] = {}
    for row in rows:
        entry = clients.setdefault(
            row.client_id,
            ClientMargin(
                client_id=row.client_id,
                currency=None,
                revenue=Decimal(0),
                cost=Decimal(0),
                margin=Decimal(0),
                jobs=[],
            ),
        )
        entry.currency = entry.currency or row.currency
        revenue, cost = domain.exact_price(row.revenue), domain.exact_price(row.cost)
        entry.jobs.append(
            JobMargin(
                job_id=row.job_id, revenue=revenue, cost=cost, margin=domain.margin(revenue, cost)
            )
        )
        entry.revenue += revenue
        entry.cost += cost
        entry.margin = domain.margin(entry.revenue, entry.cost)
    return MarginReport(
        period_start=period_start, period_end=period_end, clients=list(clients.values())
    )
