"""Document upload: 1,000 two-page invoice PDFs in one zip, against writing their bytes alone.

    .venv/bin/python bench/document_upload.py [--documents 1000] [--quick]

Generates `--documents` distinct two-page invoice PDFs with fpdf2 (each with a text layer:
invoice number, vendor, lines, total) and zips them, deflated, in memory (not timed). Starts
its own durable PostgreSQL and NATS on free ports and the intake service (one uvicorn worker
with its background loops, as `make run` starts it), its document store a local directory
under `.run/bench/<pid>/documents` (bench/harness.py), creates a client and an
open job through the API, and sends the zip in one POST /v1/jobs/{id}/documents
(`Content-Type: application/zip`). The product figure is that request, from the first byte
sent to the 201: the zip spooled, every member read and inspected with PDFium (in intake's
decoding process, one member at a time), the bytes written to the store content-addressed, the rows
inserted, the commit. Pages per second = 2 x documents / seconds.

The baseline, measured in the same run before the upload (the service idle): the same PDF
bytes written one after the other with obstore's put_async to a LocalStore in a temporary
directory on the same disk, each under its sha256 (`<client>/<sha256>/original`, the
layout intake uses): writing the same bytes to the store alone. Ratio = product pages/s /
baseline pages/s; no target is set (informational).

Also printed, for information: the seconds from the 201 until intake's page renderer has
rendered every page of the job to WebP (`document.rendered_at` set on every row, polled in
intake's database), as pages rendered per second, and the CPU the intake process (with its
decoding process) used for the upload and for the rendering. `--quick`: 100 documents. It
exits 0 whatever the figures; the last line of its output is the `RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import io
import os
import signal
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from time import perf_counter
from uuid import UUID

import httpx
import obstore
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from harness import FullStack, full_stack, interrupted, print_table, result_line, stack_cpu
from obstore.store import LocalStore

from bpo_common.auth import Role
from bpo_common.ids import new_id
from bpo_common.settings import ServiceSettings

PAGES_PER_DOCUMENT = 2
QUICK_DOCUMENTS = 100
# What intake refuses in a zip (bpo_intake.settings: document_zip_max_members).
MAX_MEMBERS = 10_000
POLL_S = 0.25
JOB = {
    "work_type": "invoice",
    "fields": [
        {"name": "invoice_number", "type": "string"},
        {"name": "total", "type": "decimal"},
    ],
    "qc": {"mode": "single"},
    "sla_hours": 24,
}
VENDORS = (
    "Acme Office Supplies",
    "Northwind Traders",
    "Globex Logistics",
    "Initech Services",
    "Umbrella Facilities",
    "Hooli Cloud",
    "Stark Industrial Parts",
    "Wayne Catering",
)
ITEMS = ("Paper A4, box", "Toner cartridge", "Freight", "Consulting hour", "Cleaning", "Licence")
CREATED = datetime(2026, 3, 1, tzinfo=UTC)  # fixed, so the same run makes the same bytes


@dataclass(frozen=True)
class Pdf:
    name: str
    content: bytes
    sha256: str


def invoice_pdf(n: int) -> bytes:
    """Invoice n as a two-page PDF with a text layer: header, lines and total on page 1,
    payment terms on page 2. The invoice number and amounts make each one's bytes its own."""
    vendor = VENDORS[n % len(VENDORS)]
    lines = [
        (
            ITEMS[(n + k) % len(ITEMS)],
            1 + (n * 7 + k) % 9,
            Decimal(f"{5 + (n * 13 + k) % 240}.{n % 100:02d}"),
        )
        for k in range(4)
    ]
    total = sum((quantity * price for _, quantity, price in lines), Decimal(0))
    document = FPDF(format="A4")
    document.set_creation_date(CREATED)
    document.set_title(f"Invoice INV-{n:06d}")
    document.add_page()
    document.set_font("Helvetica", "B", 18)
    document.cell(text=f"Invoice INV-{n:06d}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.set_font("Helvetica", size=11)
    for text in (
        f"Vendor: {vendor}",
        f"Issued on: 2026-03-{1 + n % 28:02d}",
        f"Bill to: Client account {10_000 + n % 500}",
    ):
        document.cell(text=text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.ln(6)
    for description, quantity, price in lines:
        document.cell(w=90, text=description)
        document.cell(w=30, text=f"{quantity} x", align="R")
        document.cell(w=40, text=f"{price} EUR", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.set_font("Helvetica", "B", 12)
    document.cell(w=160, text=f"Total: {total} EUR", align="R")
    document.add_page()
    document.set_font("Helvetica", size=11)
    for text in (
        f"Invoice INV-{n:06d}, page 2 of 2",
        f"Payment terms: 30 days net. Please pay {total} EUR to {vendor}.",
        f"IBAN NL{n % 97:02d} BANK 0{n:09d}, reference INV-{n:06d}.",
        "Questions about this invoice: accounts@example.com",
    ):
        document.cell(text=text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(document.output())


def make_pdfs(count: int) -> list[Pdf]:
    pdfs = []
    for n in range(1, count + 1):
        content = invoice_pdf(n)
        pdfs.append(Pdf(f"invoices/invoice-{n:06d}.pdf", content, sha256(content).hexdigest()))
    if len({pdf.sha256 for pdf in pdfs}) != count:
        raise RuntimeError("two generated PDFs have the same bytes")
    return pdfs


def zipped(pdfs: Sequence[Pdf]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for pdf in pdfs:
            archive.writestr(pdf.name, pdf.content)
    return out.getvalue()


def max_body_bytes() -> int:
    """The request body limit the service will apply (BPO_MAX_BODY_BYTES, it inherits ours)."""
    default = ServiceSettings.model_fields["max_body_bytes"].default
    return int(os.environ.get("BPO_MAX_BODY_BYTES", default))


async def new_job(http: httpx.AsyncClient, bench: FullStack) -> tuple[UUID, dict[str, str]]:
    """A new client and an open job of it: (job id, the client's headers)."""
    client = await http.post(
        "/v1/clients", json={"name": f"Bench {new_id()}"}, headers=bench.headers(Role.MANAGER)
    )
    client.raise_for_status()
    headers = bench.headers(Role.CLIENT, UUID(client.json()["id"]))
    job = await http.post("/v1/jobs", json=JOB, headers=headers)
    job.raise_for_status()
    return UUID(job.json()["id"]), headers


async def put_all(store: LocalStore, pdfs: Sequence[Pdf], client_id: UUID) -> float:
    """Seconds to write every PDF's bytes to the store, one after the other."""
    started = perf_counter()
    for pdf in pdfs:
        await obstore.put_async(store, f"{client_id}/{pdf.sha256}/original", pdf.content)
    return perf_counter() - started


def baseline(pdfs: Sequence[Pdf], directory: Path) -> float:
    """Seconds to write every PDF's bytes to a LocalStore in `directory`, checked there."""
    client_id = new_id()
    elapsed = asyncio.run(put_all(LocalStore(directory, mkdir=True), pdfs, client_id))
    written = list(directory.glob(f"{client_id}/*/original"))
    if len(written) != len(pdfs):
        raise RuntimeError(f"the baseline wrote {len(written)} objects, not {len(pdfs)}")
    return elapsed


@dataclass(frozen=True)
class Upload:
    seconds: float  # the POST, first byte sent to the 201
    render_s: float | None  # from the 201 until every document is rendered; None: gave up
    rendered: int  # documents rendered when the clock stopped
    upload_cpu_s: float  # of the intake process, during the POST
    render_cpu_s: float  # of the intake process, from the 201 until rendered


async def upload(
    bench: FullStack, pdfs: Sequence[Pdf], archive: bytes, render_timeout_s: float
) -> Upload:
    """One POST of the zip; then the wait for the page renderer."""
    async with httpx.AsyncClient(base_url=bench.url("intake"), timeout=600) as http:
        job_id, headers = await new_job(http, bench)
        cpu_before = stack_cpu(bench)["intake"]
        started = perf_counter()
        response = await http.post(
            f"/v1/jobs/{job_id}/documents",
            content=archive,
            headers={**headers, "Content-Type": "application/zip"},
        )
        answered = perf_counter()
        cpu_answered = stack_cpu(bench)["intake"]
    if response.status_code != 201:
        raise RuntimeError(f"the upload failed: {response.status_code} {response.text}")
    stored = response.json()["documents"]
    if sorted(document["sha256"] for document in stored) != sorted(pdf.sha256 for pdf in pdfs):
        raise RuntimeError(f"the upload answered {len(stored)} documents, not the {len(pdfs)} sent")
    pages = sum(document["pages"] for document in stored)
    if pages != PAGES_PER_DOCUMENT * len(pdfs):
        raise RuntimeError(
            f"the upload counted {pages} pages, not {PAGES_PER_DOCUMENT * len(pdfs)}"
        )

    query = (
        "SELECT count(*) AS total, count(rendered_at) AS rendered FROM document WHERE job_id = $1"
    )
    rendered, render_s = 0, None
    while perf_counter() - answered < render_timeout_s:
        (row,) = await bench.fetch("bpo_intake", query, job_id)
        rendered = int(row["rendered"])
        if rendered == len(pdfs) == int(row["total"]):
            render_s = perf_counter() - answered
            break
        await asyncio.sleep(POLL_S)
    return Upload(
        answered - started,
        render_s,
        rendered,
        cpu_answered - cpu_before,
        stack_cpu(bench)["intake"] - cpu_answered,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000, help="two-page PDFs in the zip")
    parser.add_argument(
        "--render-timeout", type=float, default=600.0, help="seconds to wait for the rendering"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a smoke run: {QUICK_DOCUMENTS} documents"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.documents = QUICK_DOCUMENTS
    count = arguments.documents
    if not 1 <= count <= MAX_MEMBERS:
        parser.error(f"--documents must be between 1 and {MAX_MEMBERS:,} (intake's zip limit)")
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, interrupted)
    load_start = os.getloadavg()[0]

    started = perf_counter()
    pdfs = make_pdfs(count)
    archive = zipped(pdfs)
    generate_s = perf_counter() - started
    pdf_bytes = sum(len(pdf.content) for pdf in pdfs)
    limit = max_body_bytes()
    if len(archive) > limit:
        print(
            f"the zip has {len(archive):,} bytes, over the body limit of {limit:,} "
            "(BPO_MAX_BODY_BYTES): fewer --documents",
            file=sys.stderr,
        )
        return 2
    pages = PAGES_PER_DOCUMENT * count

    try:
        with full_stack("intake") as bench:
            # First, while the service is idle: nothing of the upload's rendering disturbs it.
            with tempfile.TemporaryDirectory(dir=bench.root) as directory:
                baseline_s = baseline(pdfs, Path(directory))
            result = asyncio.run(upload(bench, pdfs, archive, arguments.render_timeout))
    except KeyboardInterrupt:
        print("interrupted: the stack is stopped", file=sys.stderr)
        return 130

    product_rate, baseline_rate = pages / result.seconds, pages / baseline_s
    ratio = product_rate / baseline_rate
    render_rate = pages / result.render_s if result.render_s is not None else None
    if render_rate is not None:
        assert result.render_s is not None
        rendering = f"{render_rate:,.1f}  ({result.render_s:.1f} s after the 201)"
    else:
        rendering = (
            f"not finished after {arguments.render_timeout:.0f} s "
            f"({result.rendered:,} of {count:,} documents rendered)"
        )
    upload_cpu_ms = 1000 * result.upload_cpu_s / pages
    render_cpu_ms = 1000 * result.render_cpu_s / pages
    rows = [
        ("documents in the zip", f"{count:,} two-page PDFs ({pages:,} pages)"),
        (
            "PDF bytes / zip (deflated)",
            f"{pdf_bytes:,} / {len(archive):,} bytes (body limit {limit:,}); "
            f"made in {generate_s:.1f} s",
        ),
        (
            "product: one POST of the zip, pages/s",
            f"{product_rate:,.0f}  ({result.seconds:.2f} s to the 201)",
        ),
        (
            "baseline: obstore put_async to a LocalStore, pages/s",
            f"{baseline_rate:,.0f}  ({baseline_s:.2f} s)",
        ),
        ("ratio product / baseline", f"{ratio:.3f}  (no target)"),
        ("pages rendered to WebP, pages/s", rendering),
        (
            "intake CPU per page: upload / rendering",
            f"{upload_cpu_ms:.2f} / {render_cpu_ms:.1f} ms",
        ),
    ]
    print_table("document upload", rows, load_start)
    figures = [
        {
            "figure": "document upload: one zip of two-page PDFs over HTTP vs writing the same "
            "bytes to the store alone",
            "product": round(product_rate, 1),
            "baseline": round(baseline_rate, 1),
            "unit": "pages/s",
            "ratio": round(ratio, 3),
            "target": None,
        },
        {
            "figure": "pages rendered to WebP after the upload, from the 201 (informational)",
            "product": round(render_rate, 1) if render_rate is not None else None,
            "baseline": None,
            "unit": "pages/s",
            "ratio": None,
            "target": None,
        },
    ]
    notes = [
        f"{count:,} two-page fpdf2 invoices ({pdf_bytes:,} bytes; zip {len(archive):,} bytes) "
        "in one POST from the benchmark process (httpx, not pinned); baseline: the same "
        "bytes written one after the other with obstore put_async to a LocalStore on the "
        "same disk",
        f"intake CPU per page: upload {upload_cpu_ms:.2f} ms, rendering {render_cpu_ms:.1f} ms"
        + ("" if render_rate is not None else f"; rendering not finished: {rendering}"),
    ]
    print(result_line("document_upload", figures, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
