"""An invoice as a PDF (fpdf2's core fonts, A4): what GET /v1/invoices/{id} answers when
Accept asks for application/pdf."""

from decimal import Decimal

from fpdf import FPDF

from bpo_billing.domain.invoices import InvoiceStatus
from bpo_billing.domain.money import percent
from bpo_billing.schemas import InvoiceOut


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1; anything else shows as '?' rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _wrapped(pdf: FPDF, width: float, text: str) -> list[str]:
    """The text as the PDF breaks it into lines that fit `width` (one, empty, for no text)."""
    lines = pdf.multi_cell(width, 6, _latin1(text), dry_run=True, output="LINES")
    assert isinstance(lines, list)
    return lines


def invoice_pdf(invoice: InvoiceOut) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    title = f"Invoice {invoice.number}" if invoice.number else "Invoice (draft)"
    if invoice.status is InvoiceStatus.VOID:
        title += " - VOID"
    pdf.cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    facts = [
        f"Client: {invoice.client_id}",
        f"Period: {invoice.period_start} to {invoice.period_end}",
        f"Status: {invoice.status.value}",
    ]
    if invoice.due_on:
        facts.append(f"Due on: {invoice.due_on}")
    for fact in facts:
        pdf.cell(0, 5, _latin1(fact), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (100, 20, 30, 40)
    pdf.set_font("Helvetica", "B", 9)
    for width, heading in zip(widths, ("Description", "Qty", "Unit price", "Amount"), strict=True):
        pdf.cell(width, 6, heading, border="B", align="L" if heading == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for line in invoice.lines:
        # A long description (a credit saying why) goes on under its figures, never cut.
        first, *rest = _wrapped(pdf, widths[0], line.description)
        pdf.cell(widths[0], 6, first)
        pdf.cell(widths[1], 6, str(line.quantity), align="R")
        pdf.cell(widths[2], 6, str(line.unit_price), align="R")
        pdf.cell(widths[3], 6, str(line.amount), align="R", new_x="LMARGIN", new_y="NEXT")
        for more in rest:
            pdf.cell(widths[0], 6, more, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    summary: list[tuple[str, Decimal]] = [
        ("Subtotal", invoice.subtotal),
        (f"Tax ({percent(invoice.tax_rate)})", invoice.tax),
        ("Total", invoice.total),
    ]
    if invoice.amount_credited:
        summary.append(("Credited", -invoice.amount_credited))
    if invoice.amount_paid:
        summary.append(("Paid", -invoice.amount_paid))
    summary.append(("Amount due", invoice.amount_due))
    for label, amount in summary:
        bold = label in {"Total", "Amount due"}
        pdf.set_font("Helvetica", "B" if bold else "", 9)
        pdf.cell(sum(widths[:3]), 6, label, align="R")
        pdf.cell(widths[3], 6, f"{amount} {invoice.currency}", align="R",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for note in invoice.credit_notes:
        pdf.set_font("Helvetica", size=8)
        pdf.multi_cell(
            0,
            5,
            _latin1(f"Credit note {note.number}: {note.amount} {invoice.currency}, {note.reason}"),
        )
    return bytes(pdf.output())
