"""Invoices: drafts from unbilled usage, gap-free numbers, payments, credit notes, voids.

Each use case answers with the invoice as the API shows it."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain import invoices as rules
from bpo_billing.domain.invoices import InvoiceStatus, InvoiceTerms
from bpo_billing.domain.money import exact_price, plain, round_money
from bpo_billing.domain.periods import end_of
from bpo_billing.domain.price_books import in_force, taken_effect
from bpo_billing.models import CreditNote, Invoice, Payment, Series
from bpo_billing.repository import invoices as repository
from bpo_billing.repository import lock_client, price_books
from bpo_billing.repository import usage as usage_repository
from bpo_billing.schemas import (
    CreditNoteIn,
    CreditNoteLineIn,
    CreditNoteOut,
    InvoiceDraftIn,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceSummary,
    PaymentIn,
    PaymentOut,
)
from bpo_common import audit
from bpo_common.clock import utcnow
from bpo_common.contracts import billing
from bpo_common.errors import Conflict, NotFound
from bpo_common.ids import new_id
from bpo_common.money import minor_units
from bpo_common.outbox import publish
from bpo_common.pagination import Page, PageRequest, make_page


async def draft_invoice(session: AsyncSession, body: InvoiceDraftIn) -> tuple[InvoiceOut, bool]:
    """A draft from the client's unbilled usage up to the end of the period; (invoice, new).

    Runs for one client queue on a lock, so two runs at once give one draft: the second
    finds the first's and returns it. Usage completed before the period that was not billed
    yet (it arrived late) is billed here.
    """
    await lock_client(session, body.client_id, "draft")
    existing = await repository.open_draft(
        session, body.client_id, body.period_start, body.period_end
    )
    if existing is not None:
        return await _view(session, existing), False
    versions = await price_books.price_books(session, body.client_id)
    book = in_force(versions, body.period_end)
    # The month's minimum is the version's that had taken effect by its end: none before any.
    charging = taken_effect(versions, body.period_end)
    if book is None:
        raise Conflict(f"client {body.client_id} has no price book; PUT one before invoicing")
    until = end_of(body.period_end)
    invoice = Invoice(
        id=new_id(),
        client_id=body.client_id,
        number=None,
        status=InvoiceStatus.DRAFT,
        currency=book.currency,
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
    groups = await repository.claim_usage(session, invoice.id, body.client_id, until)
    usage = rules.usage_lines(groups, book.currency)
    # Stored before the credits are claimed: a credit is computed from a job's invoiced lines.
    await repository.add_invoice_lines(session, invoice.id, usage)
    credited: list[rules.CreditedJob] = [
        *await repository.claim_sla_credits(session, invoice.id, body.client_id, until),
        *await repository.claim_accuracy_credits(session, invoice.id, body.client_id, until),
    ]
    terms = InvoiceTerms(
        currency=book.currency,
        tax_rate=book.tax_rate,
        minimum_monthly_fee=charging.minimum_monthly_fee if charging else Decimal(0),
        sla_credit_pct=book.sla_credit_pct,
        accuracy_credit_pct=book.accuracy_credit_pct,
    )
    month = body.period_end.replace(day=1)
    billed = await repository.billed_in_month(session, body.client_id, month, invoice.id)
    draft = rules.assemble(usage, credited, terms, billed)
    await repository.defer_credits(session, invoice.id, draft.deferred)
    if not draft.lines:
        waiting = await usage_repository.waiting_for_a_price(session, body.client_id, until)
        raise Conflict(
            f"client {body.client_id} has no priced unbilled usage up to {body.period_end} "
            f"and no minimum fee: there is nothing to invoice{rules.unpriced_said(waiting)}"
        )
    await repository.add_invoice_lines(
        session, invoice.id, draft.lines[len(usage) :], first_position=len(usage) + 1
    )
    invoice.subtotal = draft.totals.subtotal
    invoice.tax = draft.totals.tax
    invoice.total = draft.totals.total
    return await _view(session, invoice), True


async def _locked_invoice(session: AsyncSession, invoice_id: UUID) -> Invoice:
    invoice = await repository.get_invoice(session, invoice_id, None, lock=True)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


async def finalize_invoice(
    session: AsyncSession, invoice_id: UUID, payment_terms_days: int
) -> InvoiceOut:
    """Give the draft the next number of this year's series and freeze it."""
    invoice = await _locked_invoice(session, invoice_id)
    rules.ensure_status(invoice.id, invoice.status, "finalizing", InvoiceStatus.DRAFT)
    now = utcnow()
    invoice.number = await repository.next_number(session, Series.INVOICE, now.year)
    invoice.status = InvoiceStatus.FINALIZED
    invoice.finalized_at = now
    invoice.due_on = now.date() + timedelta(days=payment_terms_days)
    if invoice.total == 0:
        # Nothing to collect (credits ate it all): it is settled as it is issued.
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, now
    audit.summarize(session, before=InvoiceStatus.DRAFT, after=invoice.status)
    await publish(
        session,
        billing.InvoiceFinalized(
            invoice_id=invoice.id,
            client_id=invoice.client_id,
            number=invoice.number,
            currency=invoice.currency,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            subtotal=round_money(invoice.subtotal, invoice.currency),
            tax=round_money(invoice.tax, invoice.currency),
            total=round_money(invoice.total, invoice.currency),
            due_on=invoice.due_on,
            finalized_at=now,
        ),
        client_id=invoice.client_id,
    )
    if invoice.status is InvoiceStatus.PAID:
        await _announce_paid(session, invoice)
    return await _view(session, invoice)


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
            total=round_money(invoice.total, invoice.currency),
            paid_at=invoice.paid_at,
        ),
        client_id=invoice.client_id,
    )


async def _settle_if_nothing_due(session: AsyncSession, invoice: Invoice, when: datetime) -> None:
    if _due(invoice) == 0:
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, when
        await _announce_paid(session, invoice)


def _due(invoice: Invoice) -> Decimal:
    return rules.amount_due(
        invoice.status, invoice.total, invoice.amount_credited, invoice.amount_paid
    )


async def add_payment(session: AsyncSession, invoice_id: UUID, body: PaymentIn) -> InvoiceOut:
    """Record a payment, partial or full; more than is due is refused."""
    invoice = await _locked_invoice(session, invoice_id)
    rules.ensure_status(invoice.id, invoice.status, "a payment", InvoiceStatus.FINALIZED)
    now = utcnow()
    rules.check_payment(body.amount, _due(invoice), invoice.currency, body.paid_at, now)
    paid_at = body.paid_at or now
    earlier = await repository.payments(session, invoice.id)
    await repository.add_settlement(
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
    # Paid on the day of its latest payment, whatever order they were recorded in.
    await _settle_if_nothing_due(
        session, invoice, max([paid_at, *(payment.paid_at for payment in earlier)])
    )
    audit.summarize(
        session, amount=body.amount, before=InvoiceStatus.FINALIZED, after=invoice.status
    )
    return await _view(session, invoice)


async def add_credit_note(
    session: AsyncSession, invoice_id: UUID, body: CreditNoteIn
) -> InvoiceOut:
    """Credit part of a finalized invoice, by an amount or line by line, with a reason."""
    invoice = await _locked_invoice(session, invoice_id)
    rules.ensure_status(invoice.id, invoice.status, "a credit note", InvoiceStatus.FINALIZED)
    line_amounts = None if body.lines is None else [line.amount for line in body.lines]
    amount = rules.credit_amount(body.amount, line_amounts, _due(invoice), invoice.currency)
    now = utcnow()
    await repository.add_settlement(
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
    audit.summarize(session, amount=amount, before=InvoiceStatus.FINALIZED, after=invoice.status)
    return await _view(session, invoice)


async def void_invoice(session: AsyncSession, invoice_id: UUID, reason: str) -> InvoiceOut:
    """Void a draft, or a finalized invoice nobody has paid or credited anything of (one of
    nothing to pay, settled as it was issued, too); its usage goes back to be invoiced
    again. On the client's draft lock, as a draft counts the month's invoices not void (for
    its minimum fee) and claims the usage a void lets go: a draft made meanwhile saw this
    invoice unvoided, and then billed its usage again without the month's fee."""
    client_id = await repository.client_of(session, invoice_id)
    if client_id is not None:
        await lock_client(session, client_id, "draft")
    invoice = await _locked_invoice(session, invoice_id)
    rules.ensure_status(
        invoice.id,
        invoice.status,
        "voiding",
        InvoiceStatus.DRAFT,
        InvoiceStatus.FINALIZED,
        InvoiceStatus.PAID,
    )
    if invoice.amount_paid > 0:
        raise Conflict(f"invoice {invoice.number} has payments; credit it instead of voiding")
    if invoice.amount_credited > 0:
        # Its usage would be billed again in full, and the credit given lost.
        raise Conflict(f"invoice {invoice.number} has credit notes; credit the rest instead")
    now = utcnow()
    was_finalized = invoice.status is not InvoiceStatus.DRAFT
    audit.summarize(session, before=invoice.status, after=InvoiceStatus.VOID)
    invoice.status, invoice.voided_at, invoice.void_reason = InvoiceStatus.VOID, now, reason
    await repository.release_invoice(session, invoice)
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
    return await _view(session, invoice)


async def get_invoice(session: AsyncSession, invoice_id: UUID, scope: UUID | None) -> InvoiceOut:
    invoice = await repository.get_invoice(session, invoice_id, scope)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return await _view(session, invoice)


async def list_invoices(
    session: AsyncSession,
    scope: UUID | None,
    client_id: UUID | None,
    status: InvoiceStatus | None,
    page: PageRequest,
) -> Page[InvoiceSummary]:
    rows = await repository.list_invoices(session, scope, client_id, status, page)
    today = utcnow().date()
    return make_page(rows, page, lambda invoice: _summary(invoice, today))


def _summary(invoice: Invoice, today: date) -> InvoiceSummary:
    money = invoice.currency
    return InvoiceSummary(
        id=invoice.id,
        client_id=invoice.client_id,
        number=invoice.number,
        status=invoice.status,
        currency=money,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        total=round_money(invoice.total, money),
        amount_due=round_money(_due(invoice), money),
        due_on=invoice.due_on,
        overdue=rules.overdue(invoice.status, invoice.due_on, today),
    )


async def _view(session: AsyncSession, invoice: Invoice) -> InvoiceOut:
    """The whole invoice as the API shows it: amounts rounded to its currency."""
    money = invoice.currency

    def m(amount: Decimal) -> Decimal:
        return round_money(amount, money)

    return InvoiceOut(
        **dict(_summary(invoice, utcnow().date())),
        lines=[
            InvoiceLineOut(
                kind=line.kind,
                job_id=line.job_id,
                work_type=line.work_type,
                description=line.description,
                quantity=line.quantity,
                unit_price=exact_price(line.unit_price, minor_units(money)),
                amount=m(line.amount),
            )
            for line in await repository.invoice_lines(session, invoice.id)
        ],
        subtotal=m(invoice.subtotal),
        tax_rate=plain(invoice.tax_rate),
        tax=m(invoice.tax),
        credit_notes=[
            CreditNoteOut(
                id=note.id,
                number=note.number,
                amount=m(note.amount),
                reason=note.reason,
                lines=[
                    line.model_copy(update={"amount": m(line.amount)})
                    for line in map(CreditNoteLineIn.model_validate, note.lines)
                ],
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
