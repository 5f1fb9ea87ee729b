"""Supplier invoices for the extraction tests: one layout per supplier, as a PDF with a text
layer or as a scan (the PDF drawn at 150 dpi, turned a little, with specks); added to a job
as items, and waited for until extraction has read them or learned from them."""

import io
import random
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image, ImageFilter
from sqlalchemy import select

from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Item

from .documents import upload

FIELDS: list[dict[str, Any]] = [
    {"name": "invoice_number", "type": "string", "hints": {"labels": ["Invoice no"]}},
    {"name": "invoice_date", "type": "date", "date_formats": ["%d.%m.%Y"]},
    {
        "name": "total",
        "type": "decimal",
        "decimal_places": 2,
        "decimal_separator": ",",
        "hints": {"labels": ["Total due"]},
    },
]


@dataclass(frozen=True)
class Invoice:
    number: str
    day: str  # as printed: 12.03.2026
    total: str  # as printed: 1.234,50

    @property
    def keyed(self) -> dict[str, str]:
        """The values a keyer would submit (canonical)."""
        d, m, y = self.day.split(".")
        return {
            "invoice_number": self.number,
            "invoice_date": f"{y}-{m}-{d}",
            "total": self.total.replace(".", "").replace(",", "."),
        }


def invoices(count: int, seed: int) -> list[Invoice]:
    rng = random.Random(seed)
    return [
        Invoice(
            f"R-{rng.randint(10000, 99999)}",
            f"{rng.randint(10, 28)}.{rng.randint(10, 12)}.2026",
            f"{rng.randint(1, 9)}.{rng.randint(100, 999)},{rng.randint(10, 99)}",
        )
        for _ in range(count)
    ]


def invoice_pdf(supplier: str, invoice: Invoice) -> bytes:
    """Brandt's layout: labels left of their values, a net amount and a due date to confuse."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.text(20, 20, f"{supplier} GmbH")
    pdf.set_font("helvetica", size=11)
    pdf.text(20, 27, "Hauptstrasse 5, 10115 Berlin")
    for y, label, value in (
        (50, "Invoice no", invoice.number),
        (58, "Date", invoice.day),
        (66, "Due", "31.12.2026"),
        (100, "Net", "100,00 EUR"),
        (108, "Total due", f"{invoice.total} EUR"),
    ):
        pdf.text(20, y, label)
        pdf.text(70, y, value)
    pdf.text(20, 270, "Payable within 30 days. Thank you for your order.")
    return bytes(pdf.output())


def scanned(pdf: bytes, seed: int = 0) -> bytes:
    """The PDF's first page as a 150 dpi PNG scan, turned by 1 degree, with specks."""
    rng = random.Random(seed)
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0].render(scale=150 / 72).to_pil().convert("L")
    finally:
        document.close()
    turned = page.rotate(1.0, fillcolor=255, resample=Image.Resampling.BICUBIC)
    pixels = turned.load()
    assert pixels is not None
    for _ in range(2000):
        pixels[rng.randrange(turned.width), rng.randrange(turned.height)] = rng.choice((0, 160))
    out = io.BytesIO()
    turned.filter(ImageFilter.GaussianBlur(0.4)).save(out, "PNG")
    return out.getvalue()


async def extracted_invoices(
    api: httpx.AsyncClient,
    db: SessionFactory,
    tokens: Tokens,
    client_id: UUID,
    job_id: str,
    files: dict[str, bytes],
    golden: dict[str, dict[str, str]] | None = None,
) -> list[Item]:
    """Upload the files and add one item per file; the items, in the files' order, once
    extraction has read them."""
    for name, content in files.items():
        response = await upload(api, tokens, client_id, job_id, content, filename=name)
        assert response.status_code == 201, response.text
    items = [
        {"external_id": name, "documents": [name], "source": {}}
        | ({"golden": golden[name]} if golden and name in golden else {})
        for name in files
    ]
    response = await api.post(
        f"/v1/jobs/{job_id}/items", json={"items": items}, headers=tokens.client(client_id)
    )
    assert response.status_code == 202, response.text
    async with db() as session:
        query = select(Item.id, Item.external_id).where(Item.job_id == UUID(job_id))
        ids = {external: item_id for item_id, external in await session.execute(query)}
    return await extracted(db, [ids[name] for name in files])


async def extracted(db: SessionFactory, item_ids: list[UUID]) -> list[Item]:
    async def done() -> bool:
        async with db() as session:
            query = select(Item).where(Item.id.in_(item_ids), Item.extracted_at.is_not(None))
            return len(list(await session.scalars(query))) == len(item_ids)

    await eventually(done, timeout_s=120, what="the items extracted")
    async with db() as session:
        found = {i.id: i for i in await session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    return [found[item_id] for item_id in item_ids]


async def learned(db: SessionFactory, item_ids: list[UUID]) -> None:
    async def done() -> bool:
        async with db() as session:
            query = select(Item.learn_pending).where(Item.id.in_(item_ids))
            flags = list(await session.scalars(query))
            return len(flags) == len(item_ids) and not any(flags)

    await eventually(done, timeout_s=60, what="extraction to learn from the accepted items")
