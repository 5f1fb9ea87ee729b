"""An invoice as a PDF (A4): what GET /v1/invoices/{id} answers when Accept asks for
application/pdf."""

import logging
import unicodedata
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

from bpo_billing.domain.invoices import InvoiceStatus
from bpo_billing.domain.money import percent
from bpo_billing.schemas import InvoiceOut

# Noto Sans, from the fontpkg-noto-sans wheel, shows what clients write in Latin, Greek and
# Cyrillic scripts, with the euro sign, dashes and curly quotes, where the PDF core fonts stop
# at Latin-1. It is a variable font, drawn at its default instance, the regular weight: a bold
# instance takes fontTools seconds to compute for each document. The bold headings and totals,
# the document's own words and figures in ASCII, are in the core Helvetica Bold instead.
_NOTO_SANS = Path(str(files("fontpkg_noto_sans") / "files" / "NotoSans[wdth,wght].ttf"))
_TEXT = ("NotoSans", "")
_BOLD = ("Helvetica", "B")


def _drawn(font_file: Path) -> frozenset[int]:
    """The characters the font has a glyph for (Noto Sans: not those of CJK, Arabic, Hebrew or
    Indic scripts)."""
    with TTFont(font_file, lazy=True) as font:
        return frozenset(font["cmap"].getBestCmap())


_DRAWN = _drawn(_NOTO_SANS)
# fontTools, subsetting the font into each document, logs each of its tables at INFO.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


def _shown(text: str) -> str:
    """The text with what the font cannot draw as U+FFFD, which it can: a mark that something
    is there (the JSON and the CSV carry it), where the PDF would leave a blank. Control
    characters stay, for the PDF to break lines at or to leave out."""
    return "".join(
        char if ord(char) in _DRAWN or unicodedata.category(char) == "Cc" else "\ufffd"
        for char in text
    )


def _wrapped(pdf: FPDF, width: float, text: str) -> list[str]:
    """The text as the PDF breaks it into lines that fit `width` (one, empty, for no text)."""
    lines = pdf.multi_cell(width, 6, _shown(text), dry_run=True, output="LINES")
    assert isinstance(lines, list)
    return lines


def invoice_pdf(invoice: InvoiceOut) -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_font(_TEXT[0], fname=_NOTO_SANS)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(*_BOLD, 16)
    title = f"Invoice {invoice.number}" if invoice.number else "Invoice (draft)"
    if invoice.status is InvoiceStatus.VOID:
        title += " - VOID"
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(*_TEXT, 9)
    facts = [
        f"Client: {invoice.client_id}",
        f"Period: {invoice.period_start} to {invoice.period_end}",
        f"Status: {invoice.status.value}",
    ]
    if invoice.due_on:
        facts.append(f"Due on: {invoice.due_on}")
    for fact in facts:
        pdf.cell(0, 5, fact, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (100, 20, 30, 40)
    pdf.set_font(*_BOLD, 9)
    for width, heading in zip(widths, ("Description", "Qty", "Unit price", "Amount"), strict=True):
        pdf.cell(width, 6, heading, border="B", align="L" if heading == "Description" else "R")
    pdf.ln()
    pdf.set_font(*_TEXT, 9)
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
        pdf.set_font(*(_BOLD if label in {"Total", "Amount due"} else _TEXT), 9)
        pdf.cell(sum(widths[:3]), 6, label, align="R")
        pdf.cell(widths[3], 6, f"{amount} {invoice.currency}", align="R",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    for note in invoice.credit_notes:
        pdf.set_font(*_TEXT, 8)
        pdf.multi_cell(
            0,
            5,
            _shown(f"Credit note {note.number}: {note.amount} {invoice.currency}, {note.reason}"),
        )
    return bytes(pdf.output())
