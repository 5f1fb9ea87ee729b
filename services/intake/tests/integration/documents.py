"""Documents for the tests: PDFs written with fpdf2, images with Pillow, zips of them."""

import io
import zipfile
from collections.abc import Mapping

from fpdf import FPDF
from PIL import Image


def invoice_pdf(number: str, pages: int = 2, password: str | None = None) -> bytes:
    """An invoice of `pages` A4 pages with a text layer: `Invoice <number>` on the first;
    encrypted, to be opened with `password`, if one is given."""
    pdf = FPDF(format="A4")
    if password is not None:
        pdf.set_encryption(owner_password=password, user_password=password)
    pdf.set_font("helvetica", size=16)
    for page in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(text=f"Invoice {number}" if page == 1 else f"Terms, page {page}")
    return bytes(pdf.output())


def image(kind: str = "PNG", size: tuple[int, int] = (60, 40), frames: int = 1) -> bytes:
    pictures = [Image.new("RGB", size, (40 * n, 120, 200)) for n in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, kind, save_all=frames > 1, append_images=pictures[1:])
    return out.getvalue()


def zipped(members: Mapping[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()
