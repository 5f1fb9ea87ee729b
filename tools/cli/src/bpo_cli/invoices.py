"""The simulation's invoices as the files a client uploads: one A4 PDF page (fpdf2's core
fonts, with a text layer) showing what the invoice really says, and zips of many."""

import io
import zipfile
from collections.abc import Mapping
from decimal import Decimal

from fpdf import FPDF

# Widths in millimetres of an invoice line's description and amount.
DESCRIPTION_MM, AMOUNT_MM = 130, 50


def invoice_pdf(truth: Mapping[str, str]) -> bytes:
    """The invoice `truth` (simulation.document's fields) as its vendor printed it."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 12, truth["vendor"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=14)
    pdf.cell(0, 10, "Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Invoice number", truth["invoice_number"]),
        ("Date", truth["issued_on"]),
        ("Currency", truth["currency"]),
    ):
        pdf.cell(40, 6, label)
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    total = f"{Decimal(truth['total']):.2f}"
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(DESCRIPTION_MM, 7, "Description", border="B")
    pdf.cell(AMOUNT_MM, 7, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(DESCRIPTION_MM, 7, "Services as agreed")
    pdf.cell(AMOUNT_MM, 7, total, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(DESCRIPTION_MM, 7, "Total due", border="T")
    pdf.cell(AMOUNT_MM, 7, f"{total} {truth['currency']}", border="T", align="R")
    return bytes(pdf.output())


def zipped(files: Mapping[str, bytes]) -> bytes:
    """`files` (name: bytes) as one deflated zip, in their order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()
