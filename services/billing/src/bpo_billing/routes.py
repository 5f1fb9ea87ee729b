"""HTTP routes of the billing service."""

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from bpo_billing import documents, service
from bpo_billing.documents import Format
from bpo_billing.models import InvoiceStatus
from bpo_billing.schemas import (
    CreditNoteIn,
    EarningsStatement,
    InvoiceDraftIn,
    InvoiceOut,
    InvoiceSummary,
    JobTermsOut,
    MarginReport,
    PaymentIn,
    PieceRatesIn,
    PieceRatesOut,
    PriceBookIn,
    PriceBookOut,
    PriceBookVersions,
    UsageLineOut,
    VoidIn,
)
from bpo_billing.settings import SettingsDep
from bpo_common.auth import ClientOrManager, ContractorOrManager, Manager, OwnClientId
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.errors import FieldError, Invalid
from bpo_common.idempotency import IdempotencyDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)

AcceptHeader = Annotated[str | None, Header(alias="Accept")]
PeriodStart = Annotated[date | None, Query(description="first day (UTC); default: this month's")]
PeriodEnd = Annotated[date | None, Query(description="last day (UTC), included; default: today")]

_TEXT = {"schema": {"type": "string"}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    today = utcnow().date()
    start, end = start or today.replace(day=1), end or today
    if end < start:
        raise Invalid(
            "the period ends before it starts",
            errors=[FieldError("period_end", "must not be before period_start")],
        )
    return start, end


@router.get("/jobs/{job_id}/terms", tags=["jobs"])
async def get_job_terms(job_id: UUID, session: SessionDep, caller: ClientOrManager) -> JobTermsOut:
    """The terms billing will price a job under: its client, work type and deadline."""
    job = await service.job_terms(session, job_id, caller.scope())
    return JobTermsOut.model_validate(job, from_attributes=True)


# Price books


@router.put(
    "/price-books/{client_id}",
    status_code=201,
    tags=["price books"],
    responses={422: PROBLEM_RESPONSE},
)
async def put_price_book(
    client_id: UUID, body: PriceBookIn, session: SessionDep, _: Manager
) -> PriceBookOut:
    """Add a new version of a client's prices, in force from its effective date."""
    book = await service.put_price_book(session, client_id, body, utcnow().date())
    return service.price_book_out(book)


@router.get("/price-books/{client_id}", tags=["price books"])
async def get_price_book(
    client_id: OwnClientId,
    session: SessionDep,
    at: Annotated[date | None, Query(description="the day; default today")] = None,
) -> PriceBookOut:
    """The version of a client's prices in force on a day (today by default)."""
    book = await service.price_book_in_force(session, client_id, at or utcnow().date())
    return service.price_book_out(book)


@router.get("/price-books/{client_id}/versions", tags=["price books"])
async def list_price_book_versions(
    client_id: OwnClientId, session: SessionDep
) -> PriceBookVersions:
    """Every version of a client's prices, oldest first."""
    return await service.price_book_versions(session, client_id)


# Usage


@router.get("/usage", tags=["usage"])
async def list_usage(
    session: SessionDep,
    caller: ClientOrManager,
    page: PageDep,
    client_id: Annotated[UUID | None, Query()] = None,
    period_start: Annotated[date | None, Query(description="completed on or after (UTC)")] = None,
    period_end: Annotated[date | None, Query(description="completed on or before (UTC)")] = None,
) -> Page[UsageLineOut]:
    """Usage lines (one per completed item), oldest first: a client sees its own."""
    return await service.list_usage(
        session, caller.scope(), client_id, period_start, period_end, page
    )


# Invoices


@router.post(
    "/invoices",
    status_code=201,
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={200: {"model": InvoiceOut, "description": "the open draft of that period"},
               409: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)  # fmt: skip
async def draft_invoice(
    body: InvoiceDraftIn, session: SessionDep, _: Manager, idempotency: IdempotencyDep
) -> JSONResponse:
    """Draft an invoice from a client's unbilled usage up to the period's end (201), or
    return the open draft of that client and period (200)."""
    invoice, created = await service.draft_invoice(session, body)
    view = await service.invoice_out(session, invoice, utcnow().date())
    return await idempotency.respond(201 if created else 200, view)


@router.get("/invoices", tags=["invoices"])
async def list_invoices(
    session: SessionDep,
    caller: ClientOrManager,
    page: PageDep,
    client_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
) -> Page[InvoiceSummary]:
    """Invoices, oldest first: a client sees its own."""
    today = utcnow().date()
    return await service.list_invoices(session, caller.scope(), client_id, status, page, today)


@router.get(
    "/invoices/{invoice_id}",
    tags=["invoices"],
    response_model=InvoiceOut,
    responses={
        200: {"content": {Format.JSON: {}, Format.CSV: _TEXT, Format.PDF: _BINARY}},
        406: PROBLEM_RESPONSE,
    },
)
async def get_invoice(
    invoice_id: UUID, session: SessionDep, caller: ClientOrManager, accept: AcceptHeader = None
) -> Response:
    """One invoice as JSON, CSV or PDF, as Accept asks."""
    chosen = documents.negotiate(accept, [Format.JSON, Format.CSV, Format.PDF])
    invoice = await service.get_invoice(session, invoice_id, caller.scope())
    view = await service.invoice_out(session, invoice, utcnow().date())
    name = f"invoice-{view.number or view.id}"
    headers = {"Vary": "Accept"}
    if chosen is Format.CSV:
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(documents.invoice_csv(view), media_type="text/csv", headers=headers)
    if chosen is Format.PDF:
        headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return Response(documents.invoice_pdf(view), media_type=Format.PDF, headers=headers)
    return JSONResponse(view.model_dump(mode="json"), headers=headers)


@router.post(
    "/invoices/{invoice_id}/finalize", tags=["invoices"], responses={409: PROBLEM_RESPONSE}
)
async def finalize_invoice(
    invoice_id: UUID, session: SessionDep, _: Manager, settings: SettingsDep
) -> InvoiceOut:
    """Give a draft the next number of this year's series; from then on it never changes."""
    invoice = await service.finalize_invoice(session, invoice_id, settings)
    return await service.invoice_out(session, invoice, utcnow().date())


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
    _: Manager,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Record a payment, partial or full; the invoice is paid when nothing is due."""
    invoice = await service.add_payment(session, invoice_id, body)
    return await idempotency.respond(
        201, await service.invoice_out(session, invoice, utcnow().date())
    )


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
    _: Manager,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Credit a finalized invoice by an amount or line by line, with a reason."""
    invoice = await service.add_credit_note(session, invoice_id, body)
    return await idempotency.respond(
        201, await service.invoice_out(session, invoice, utcnow().date())
    )


@router.post("/invoices/{invoice_id}/void", tags=["invoices"], responses={409: PROBLEM_RESPONSE})
async def void_invoice(
    invoice_id: UUID, body: VoidIn, session: SessionDep, _: Manager
) -> InvoiceOut:
    """Void a draft or an unpaid invoice; its usage goes on the next draft."""
    invoice = await service.void_invoice(session, invoice_id, body.reason)
    return await service.invoice_out(session, invoice, utcnow().date())


# Contractors


@router.put("/piece-rates/{work_type}", tags=["contractors"], responses={422: PROBLEM_RESPONSE})
async def put_piece_rates(
    work_type: str, body: PieceRatesIn, session: SessionDep, _: Manager
) -> PieceRatesOut:
    """Set what entry, review and adjudication tasks on a work type pay."""
    await service.put_piece_rates(session, work_type, body)
    (rates,) = await service.piece_rates(session, work_type)
    return rates


@router.get("/piece-rates", tags=["contractors"])
async def list_piece_rates(session: SessionDep, _: ContractorOrManager) -> list[PieceRatesOut]:
    """The piece rates of every work type."""
    return await service.piece_rates(session)


@router.get(
    "/contractors/{contractor_id}/earnings",
    tags=["contractors"],
    response_model=EarningsStatement,
    responses={200: {"content": {Format.JSON: {}, Format.CSV: _TEXT}}, 406: PROBLEM_RESPONSE},
)
async def get_earnings(
    contractor_id: UUID,
    session: SessionDep,
    caller: ContractorOrManager,
    period_start: PeriodStart = None,
    period_end: PeriodEnd = None,
    accept: AcceptHeader = None,
) -> Response:
    """A contractor's piece-rate statement for a period, as JSON or CSV: managers and that
    contractor only."""
    chosen = documents.negotiate(accept, [Format.JSON, Format.CSV])
    service.ensure_may_see_earnings(caller, contractor_id)
    start, end = _period(period_start, period_end)
    statement = await service.earnings_statement(session, contractor_id, start, end)
    if chosen is Format.CSV:
        name = f"earnings-{contractor_id}-{start}-{end}.csv"
        headers = {"Vary": "Accept", "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(documents.statement_csv(statement), media_type="text/csv", headers=headers)
    content: dict[str, Any] = statement.model_dump(mode="json")
    return JSONResponse(content, headers={"Vary": "Accept"})


# Margin


@router.get("/margin", tags=["margin"])
async def get_margin(
    session: SessionDep,
    _: Manager,
    client_id: Annotated[UUID | None, Query()] = None,
    period_start: PeriodStart = None,
    period_end: PeriodEnd = None,
) -> MarginReport:
    """Revenue minus contractor cost per client and per job, for a period."""
    start, end = _period(period_start, period_end)
    return await service.margin_report(session, client_id, start, end)
