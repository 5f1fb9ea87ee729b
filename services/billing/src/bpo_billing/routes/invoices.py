"""Invoices: drafting, finalizing, payments, credit notes, voids; one invoice as JSON, CSV or
PDF."""

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from bpo_billing.domain.invoices import InvoiceStatus
from bpo_billing.domain.money import percent
from bpo_billing.routes.invoice_pdf import invoice_pdf
from bpo_billing.routes.parameters import AS_BINARY, AS_TEXT, JSON, PDF, AcceptHeader, chosen_format
from bpo_billing.schemas import (
    CreditNoteIn,
    InvoiceDraftIn,
    InvoiceOut,
    InvoiceSummary,
    PaymentIn,
    VoidIn,
)
from bpo_billing.service import invoices as service
from bpo_billing.settings import SettingsDep
from bpo_common import audit
from bpo_common.auth import Finance, InvoicesScope
from bpo_common.db import SessionDep
from bpo_common.idempotency import IdempotencyDep
from bpo_common.media import CSV, attachment, csv_text
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.post(
    "/invoices",
    status_code=201,
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={200: {"model": InvoiceOut, "description": "the open draft of that period"},
               409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)  # fmt: skip
async def draft_invoice(
    body: InvoiceDraftIn, session: SessionDep, _: Finance, idempotency: IdempotencyDep
) -> JSONResponse:
    """Draft an invoice from a client's unbilled usage up to the period's end (201), or
    return the open draft of that client and period (200)."""
    view, created = await service.draft_invoice(session, body)
    audit.summarize(session, invoice_id=view.id, lines=len(view.lines))
    return await idempotency.respond(201 if created else 200, view)


@router.get("/invoices", tags=["invoices"])
async def list_invoices(
    session: SessionDep,
    scope: InvoicesScope,
    page: PageDep,
    client_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
) -> Page[InvoiceSummary]:
    """Invoices, oldest first: a client sees its own."""
    return await service.list_invoices(session, scope, client_id, status, page)


@router.get(
    "/invoices/{invoice_id}",
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={
        200: {"content": {JSON: {}, CSV: AS_TEXT, PDF: AS_BINARY}},
        406: PROBLEM_RESPONSE,
    },
)
async def get_invoice(
    invoice_id: UUID, session: SessionDep, scope: InvoicesScope, accept: AcceptHeader = None
) -> Response:
    """One invoice as JSON, CSV or PDF, as Accept asks."""
    chosen = chosen_format(accept, [JSON, CSV, PDF])
    view = await service.get_invoice(session, invoice_id, scope)
    name = f"invoice-{view.number or view.id}"
    if chosen == CSV:
        headers = attachment(f"{name}.csv")
        return Response(csv_text(_invoice_rows(view)), media_type=CSV, headers=headers)
    if chosen == PDF:
        headers = attachment(f"{name}.pdf", inline=True)
        # Drawn in a thread: a long invoice takes seconds, which the event loop (this
        # replica's requests, consumer and relay) must not wait for.
        pdf = await asyncio.to_thread(invoice_pdf, view)
        return Response(pdf, media_type=PDF, headers=headers)
    return JSONResponse(view.model_dump(mode="json"), headers={"Vary": "Accept"})


def _invoice_rows(invoice: InvoiceOut) -> list[list[object]]:
    """One row per invoice line, then the totals as rows of their own (label in `kind`), then
    the status (a void invoice keeps its figures: only this row, and the next with the
    reason, tell it from an issued one), then one row per credit note."""
    rows: list[list[object]] = [
        ["number", "kind", "job_id", "work_type", "description", "quantity", "unit_price",
         "amount", "currency"],
    ]  # fmt: skip
    number = invoice.number or "draft"
    for line in invoice.lines:
        rows.append([number, line.kind.value, line.job_id, line.work_type, line.description,
                     line.quantity, line.unit_price, line.amount, invoice.currency])  # fmt: skip
    totals = [
        ("subtotal", invoice.subtotal),
        (f"tax {percent(invoice.tax_rate)}", invoice.tax),
        ("total", invoice.total),
        ("credited", invoice.amount_credited),
        ("paid", invoice.amount_paid),
        ("amount_due", invoice.amount_due),
    ]
    for label, amount in totals:
        rows.append([number, label, "", "", "", "", "", amount, invoice.currency])
    rows.append([number, "status", "", "", invoice.status.value, "", "", "", ""])
    if invoice.status is InvoiceStatus.VOID:
        rows.append([number, "void", "", "", invoice.void_reason, "", "", "", ""])
    for note in invoice.credit_notes:
        rows.append([number, "credit_note", "", "", f"{note.number}: {note.reason}", "", "",
                     note.amount, invoice.currency])  # fmt: skip
    return rows


@router.post(
    "/invoices/{invoice_id}/finalize", tags=["invoices"], responses={409: PROBLEM_RESPONSE}
)
async def finalize_invoice(
    invoice_id: UUID, session: SessionDep, _: Finance, settings: SettingsDep
) -> InvoiceOut:
    """Give a draft the next number of this year's series; from then on it never changes."""
    return await service.finalize_invoice(session, invoice_id, settings.payment_terms_days)


@router.post(
    "/invoices/{invoice_id}/payments",
    status_code=201,
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
async def add_payment(
    invoice_id: UUID,
    body: PaymentIn,
    session: SessionDep,
    _: Finance,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Record a payment, partial or full; the invoice is paid when nothing is due."""
    return await idempotency.respond(201, await service.add_payment(session, invoice_id, body))


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    status_code=201,
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
async def add_credit_note(
    invoice_id: UUID,
    body: CreditNoteIn,
    session: SessionDep,
    _: Finance,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Credit a finalized invoice by an amount or line by line, with a reason."""
    view = await service.add_credit_note(session, invoice_id, body)
    return await idempotency.respond(201, view)


@router.post("/invoices/{invoice_id}/void", tags=["invoices"], responses={409: PROBLEM_RESPONSE})
async def void_invoice(
    invoice_id: UUID, body: VoidIn, session: SessionDep, _: Finance
) -> InvoiceOut:
    """Void a draft or an unpaid invoice; its usage goes on the next draft."""
    return await service.void_invoice(session, invoice_id, body.reason)
