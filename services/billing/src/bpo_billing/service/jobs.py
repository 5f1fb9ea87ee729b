"""Jobs as billing prices them, and the credits of those that finished late or below their
accuracy target."""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain import invoices as rules
from bpo_billing.domain.invoices import InvoiceStatus, LineKind
from bpo_billing.models import AccuracyCredit, BillableJob, Invoice, SlaCredit
from bpo_billing.repository import invoices, lock_client, price_books
from bpo_billing.repository import jobs as repository
from bpo_billing.schemas import JobTermsOut
from bpo_common.clock import utcnow
from bpo_common.contracts.intake import JobCompleted, JobCreated
from bpo_common.contracts.validation import JobAccuracyDelivered
from bpo_common.errors import NotFound


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


async def job_terms(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobTermsOut:
    job = await repository.get_billable_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"billing knows no job {job_id}")
    return JobTermsOut.model_validate(job, from_attributes=True)


async def record_job_completed(session: AsyncSession, event: JobCompleted) -> None:
    """A job finished after its due time earns its client an SLA credit on the next invoice."""
    if event.due_at is None or event.completed_at <= event.due_at:
        return
    await repository.add_credit(
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


async def record_accuracy_delivered(session: AsyncSession, event: JobAccuracyDelivered) -> None:
    """The latest verdict on the accuracy a job delivered stands, as intake keeps it (by
    `decided_at`: an older one told late changes nothing). A job that did not deliver its
    target with 95 % confidence earns its client an accuracy credit on the next invoice
    drafted; a later verdict decides a credit still pending, and one on a draft (its line
    goes, or names the latest figures, and the totals follow).

    Once the invoice that gave the credit is finalized, the credit stands as issued: an issued
    invoice never changes, and taking a credit back or giving more is a person's call (a
    credit note, a void). The latest verdict is kept all the same, and decides again if that
    invoice is voided. A job found below its target only by a later verdict is credited on the
    next draft, as any credit told after a draft is."""
    # No draft claims the job's credit meanwhile; the invoice holding it is locked before the
    # credit is read again, in the order a void takes them.
    await lock_client(session, event.client_id, "draft")
    kept = await repository.accuracy_verdict(session, event.job_id)
    if kept is None:
        await repository.add_credit(
            session,
            AccuracyCredit(
                job_id=event.job_id,
                client_id=event.client_id,
                met=event.met,
                invoice_id=None,
                created_at=utcnow(),
                **_figures(event),
            ),
        )
        return
    if kept.decided_at >= event.decided_at:
        return
    invoice = None
    if kept.invoice_id is not None:
        invoice = await invoices.get_invoice(session, kept.invoice_id, None, lock=True)
        kept = await repository.accuracy_verdict(session, event.job_id)  # a void gave it back?
        assert kept is not None
    kept.met = event.met
    for name, value in _figures(event).items():
        setattr(kept, name, value)
    # A draft still holds it (a void would have given it back); a final invoice keeps its own.
    if invoice is not None and invoice.status is InvoiceStatus.DRAFT:
        await _redecide_on_draft(session, invoice, kept)


def _figures(event: JobAccuracyDelivered) -> dict[str, Any]:
    return {
        "target_accuracy": event.target,
        "estimate": event.estimate,
        "assured": event.assured,
        "decided_at": event.decided_at,
    }


async def _redecide_on_draft(
    session: AsyncSession, draft: Invoice, verdict: AccuracyCredit
) -> None:
    """A job that met its target after all has no credit on the draft; one still below it has
    its line name the latest figures (its amount is a share of what the items were billed,
    which a verdict does not change)."""
    kind = LineKind.ACCURACY_CREDIT
    line = await invoices.job_credit_line(session, draft.id, verdict.job_id, kind)
    if verdict.met:
        verdict.invoice_id = None
        if line is not None:
            await invoices.remove_line(session, line)
    elif line is not None:
        book = await price_books.price_book(session, draft.price_book_id)
        job = await repository.get_billable_job(session, verdict.job_id, None)
        assert book is not None
        line.description = rules.credit_description(
            kind,
            book.accuracy_credit_pct,
            (job.external_ref if job else None) or verdict.job_id,
            rules.accuracy_shortfall(verdict.target_accuracy, verdict.estimate, verdict.assured),
        )
    lines = await invoices.invoice_lines(session, draft.id)
    totals = rules.invoice_totals([ln.amount for ln in lines], draft.tax_rate, draft.currency)
    draft.subtotal, draft.tax, draft.total = totals.subtotal, totals.tax, totals.total
