"""Machine pre-fill: how right and how complete the suggestions are after a layout learned from
1, 3, 10 and 30 keyed documents, and OCR's pages per second and memory on this machine.

    .venv/bin/python bench/extraction.py [--per-layout 200] [--quick]

The corpus is bench/invoice_corpus.py's: 5 supplier layouts (two languages, labels beside or
above their values, in a table row, in a right-hand column; four date formats, both decimal
separators), `--per-layout` invoices each (200), born-digital PDFs and, `--scan-share` of
them (a quarter, to keep OCR within minutes), scans (150 dpi, turned up to 2 degrees,
blurred, specks), each with its true field values. Every document
goes the way intake takes it: rendered to its page image and words by
`bpo_intake.domain.documents.render`; a scan's words read by Tesseract from that image
(`bpo_intake.service.ocr`, one process per page, two at a time: the 2 cores of a worker).

1. OCR (the product's figure): scanned pages per second, two pages at a time; the peak
   memory of one Tesseract process (measured on one page, run from a small Python process
   so that the fork does not count this one's memory) and of this process (which holds
   every document's words). Baseline: PDF pages per second through the same render (the
   text layer, no OCR).
2. Learning (the issue's targets): per layout, its documents in a shuffled order, the
   first 30 are keyed (the layout learns from their true values, `domain.layouts.learn`,
   as intake learns from accepted results) and the rest are held out; for K in 0 (hints
   only), 1, 3, 10, 30, the model learned from the first K suggests every held-out
   document's fields (`domain.suggestions.suggest`). At the threshold (0.8, the default
   `qc.suggestion_threshold`): precision = suggestions that equal the truth / suggestions;
   coverage = suggestions / fields the document prints. Targets after 10 keyed documents:
   precision >= 99 %, coverage >= 60 %. Baseline for the precision: the first candidate of
   the field's type on the page, no labels, no learning.
3. The worker (the issue's "OCR pages per second and the worker's peak memory"): intake's
   own worker process, started apart from its API by bench/harness.py (durable PostgreSQL,
   the document store under `.run/bench/<pid>`), reads `--worker-scans` (40) of the corpus's
   scans, uploaded ten to a zip: pages per second from the first upload to the last page
   read (`document_page.read_at`, polled: uploads, renders and OCR, as a client sees it),
   and the worker's peak memory (VmHWM of its process, which also renders the pages),
   besides one Tesseract's (the child process it runs per page).
4. Layouts (informational): every document matched to a layout in turn, as intake does
   (`domain.layouts.match` and `observe`, one client): how many layouts that makes, and the
   share of documents in a layout whose other documents are mostly of their own supplier.

`--quick`: 40 documents per layout, half of them scans. It exits 0 whatever the figures; the
last line of its output is the `RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import io
import json
import random
import resource
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from document_upload import new_job
from harness import FullStack, full_stack
from invoice_corpus import FIELDS, LAYOUTS, Sample, corpus

from bpo_common.rules import FieldSpec, JobSpec
from bpo_intake.domain import documents, extraction, layouts, suggestions
from bpo_intake.domain.extraction import Page
from bpo_intake.domain.words import Word
from bpo_intake.service.ocr import Tesseract

THRESHOLD = 0.8
KEYED = (0, 1, 3, 10, 30)
TRAIN = max(KEYED)
PRECISION_TARGET, COVERAGE_TARGET = 0.99, 0.60


@dataclass(frozen=True)
class Read:
    sample: Sample
    pages: list[Page]


def rendered(sample: Sample) -> list[documents.RenderedPage]:
    kind = documents.MediaType.PDF if sample.kind == "pdf" else documents.MediaType.PNG
    return list(documents.render(kind, sample.content))


async def read_all(
    samples: Sequence[Sample], engine: Tesseract
) -> tuple[list[Read], dict[str, float]]:
    """Every document's pages and words; the time PDFs and scans took, per page."""
    reads: list[Read] = []
    pdf_s = 0.0
    pdf_pages = 0
    gate = asyncio.Semaphore(2)

    async def ocr(image: bytes) -> list[Word]:
        async with gate:
            return await engine.read(image)

    scans: list[tuple[Sample, list[documents.RenderedPage]]] = []
    for sample in samples:
        started = time.perf_counter()
        pages = rendered(sample)
        if sample.kind == "pdf":
            pdf_s += time.perf_counter() - started
            pdf_pages += len(pages)
            read = [Page(sample.filename, p.number, p.words or []) for p in pages]
            reads.append(Read(sample, read))
        else:
            scans.append((sample, pages))
    scan_pages = sum(len(pages) for _, pages in scans)
    started = time.perf_counter()
    words = await asyncio.gather(*(ocr(p.image) for _, pages in scans for p in pages))
    scan_s = time.perf_counter() - started
    flat = iter(words)
    for sample, pages in scans:
        reads.append(Read(sample, [Page(sample.filename, p.number, next(flat)) for p in pages]))
    speeds = {
        "pdf_pages_per_s": pdf_pages / pdf_s if pdf_s else 0.0,
        "scan_pages_per_s": scan_pages / scan_s if scan_s else 0.0,
        "scan_pages": scan_pages,
        "pdf_pages": pdf_pages,
    }
    return reads, speeds


# One page through Tesseract as the worker runs it, from a small process: its children's peak
# memory is Tesseract's own.
_PEAK = """
import resource, subprocess, sys
image = sys.stdin.buffer.read()
subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng+deu", "--psm", "3", "tsv"],
               input=image, capture_output=True, check=True, env={"OMP_THREAD_LIMIT": "1"})
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def tesseract_peak_mib(image: bytes) -> float:
    png = subprocess.run(
        [sys.executable, "-c", _PNG], input=image, capture_output=True, check=True
    ).stdout
    out = subprocess.run(
        [sys.executable, "-c", _PEAK], input=png, capture_output=True, check=True
    ).stdout
    return int(out) / 1024


# The page image as the grey PNG the worker hands Tesseract (bpo_intake.service.ocr).
_PNG = """
import io, sys
from PIL import Image
grey = Image.open(io.BytesIO(sys.stdin.buffer.read())).convert("L")
out = io.BytesIO()
grey.save(out, "PNG", compress_level=1)
sys.stdout.buffer.write(out.getvalue())
"""


async def worker_reads(bench: FullStack, scans: Sequence[Sample]) -> tuple[float, float]:
    """The scans uploaded, ten to a zip (a scan is 1.7 MB), to intake: (pages/s its worker
    read them at, from the first upload, and the worker's peak memory in MiB)."""
    async with httpx.AsyncClient(base_url=bench.url("intake"), timeout=600) as http:
        job_id, headers = await new_job(http, bench)
        started = time.perf_counter()
        for start in range(0, len(scans), 10):
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
                for sample in scans[start : start + 10]:
                    zipped.writestr(sample.filename, sample.content)
            response = await http.post(
                f"/v1/jobs/{job_id}/documents",
                content=archive.getvalue(),
                headers={**headers, "Content-Type": "application/zip"},
            )
            response.raise_for_status()
    query = (
        "SELECT count(*) AS pages, count(p.read_at) AS read FROM document_page p"
        " JOIN document d ON d.id = p.document_id WHERE d.job_id = $1"
    )
    while True:
        (row,) = await bench.fetch("bpo_intake", query, job_id)
        if row["read"] == row["pages"] == len(scans):
            break
        if time.perf_counter() - started > 30 * len(scans):
            raise RuntimeError(f"the worker read {row['read']} of {len(scans)} pages")
        await asyncio.sleep(0.25)
    seconds = time.perf_counter() - started
    return len(scans) / seconds, peak_mib(bench.pids()["intake-worker"])


def peak_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmHWM:") / 1024


def naive(spec: FieldSpec, pages: Sequence[Page]) -> object | None:
    """The first value of the field's type on the page, whatever labels it."""
    first = next(extraction.candidates(spec, pages), None)
    return None if first is None else first.value


@dataclass
class Tally:
    suggested: int = 0
    right: int = 0
    printed: int = 0

    def add(self, other: "Tally") -> None:
        self.suggested += other.suggested
        self.right += other.right
        self.printed += other.printed

    @property
    def precision(self) -> float:
        return self.right / self.suggested if self.suggested else 1.0

    @property
    def coverage(self) -> float:
        return self.suggested / self.printed if self.printed else 0.0


def learning_curve(
    reads: Sequence[Read], specs: Sequence[FieldSpec], seed: int
) -> tuple[dict[int, dict[str, Tally]], dict[str, Tally]]:
    """Per K, tallies per field (and per kind, under "@pdf" and "@scan"); and the naive
    baseline's per field."""
    by_layout: dict[str, list[Read]] = defaultdict(list)
    for read in reads:
        by_layout[read.sample.layout].append(read)
    curve: dict[int, dict[str, Tally]] = {k: defaultdict(Tally) for k in KEYED}
    baseline: dict[str, Tally] = defaultdict(Tally)
    for layout, docs in sorted(by_layout.items()):
        random.Random(f"{seed}/{layout}").shuffle(docs)
        train, held = docs[:TRAIN], docs[TRAIN:]
        model = layouts.Model()
        learned = 0
        for k in KEYED:
            while learned < k:
                layouts.learn(model, specs, train[learned].pages, train[learned].sample.truth)
                learned += 1
            for doc in held:
                found = suggestions.suggest(specs, doc.pages, model.fields)
                for spec in specs:
                    truth = doc.sample.truth.get(spec.name)
                    if truth is None:
                        continue
                    tally = Tally(printed=1)
                    shown = found.get(spec.name)
                    if shown is not None and shown.confidence >= THRESHOLD:
                        tally.suggested = 1
                        tally.right = int(shown.value == truth)
                    curve[k][spec.name].add(tally)
                    curve[k][f"@{doc.sample.kind}"].add(tally)
                    if k == 0:
                        guess = naive(spec, doc.pages)
                        baseline[spec.name].add(
                            Tally(int(guess is not None), int(guess == truth), 1)
                        )
    return curve, baseline


def layout_purity(reads: Sequence[Read], seed: int) -> tuple[int, float]:
    """Documents matched to layouts one by one, in a shuffled order: the layouts made, and
    the share of documents whose layout is mostly of their own supplier."""
    order = list(reads)
    random.Random(f"{seed}/match").shuffle(order)
    known: list[layouts.Known] = []
    members: dict[int, list[str]] = defaultdict(list)
    for read in order:
        seen = layouts.tokens(read.pages)
        key = layouts.match(seen, known)
        if key is None:
            key = len(known)
            known.append((key, *layouts.observe({}, {}, seen), 1))
        else:
            _, counts, places, n = known[key]
            known[key] = (key, *layouts.observe(counts, places, seen), n + 1)
        members[key].append(read.sample.layout)
    pure = sum(Counter(m).most_common(1)[0][1] for m in members.values())
    return len(known), pure / len(order)


def total(tallies: dict[str, Tally], names: Sequence[str]) -> Tally:
    out = Tally()
    for name in names:
        out.add(tallies[name])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-layout", type=int, default=200)
    parser.add_argument("--scan-share", type=float, default=0.25)
    parser.add_argument("--worker-scans", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="40 documents per layout")
    arguments = parser.parse_args()
    per_layout = 40 if arguments.quick else arguments.per_layout
    worker_scans = 10 if arguments.quick else arguments.worker_scans
    scan_share = 0.5 if arguments.quick else arguments.scan_share
    specs = JobSpec.model_validate({"fields": FIELDS}).fields
    names = [spec.name for spec in specs]

    started = time.perf_counter()
    samples = list(corpus(per_layout, arguments.seed, scan_share))
    print(f"corpus: {len(samples)} documents in {time.perf_counter() - started:.1f} s", flush=True)
    reads, speeds = asyncio.run(read_all(samples, Tesseract()))
    first_scan = next(sample for sample in samples if sample.kind == "scan")
    children = tesseract_peak_mib(rendered(first_scan)[0].image)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"read: {speeds['pdf_pages']} PDF pages at {speeds['pdf_pages_per_s']:.1f}/s, "
        f"{speeds['scan_pages']} scanned pages OCR'd at {speeds['scan_pages_per_s']:.2f}/s "
        f"(2 at a time); peak memory: Tesseract {children:.0f} MiB, this process {own:.0f} MiB",
        flush=True,
    )

    scans = [sample for sample in samples if sample.kind == "scan"][:worker_scans]
    with full_stack("intake", apart=True) as bench:
        worker_rate, worker_mib = asyncio.run(worker_reads(bench, scans))
    print(
        f"intake's worker: {len(scans)} scanned pages read at {worker_rate:.2f}/s (one worker, "
        f"one page at a time); its peak memory {worker_mib:.0f} MiB",
        flush=True,
    )

    curve, baseline = learning_curve(reads, specs, arguments.seed)
    print(f"\n{'keyed':>5} {'precision':>10} {'coverage':>9}   pdf prec/cov   scan prec/cov")
    for k in KEYED:
        every = total(curve[k], names)
        pdf, scan = curve[k]["@pdf"], curve[k]["@scan"]
        print(
            f"{k:>5} {every.precision:>10.2%} {every.coverage:>9.2%}   "
            f"{pdf.precision:6.2%}/{pdf.coverage:6.2%}  {scan.precision:6.2%}/{scan.coverage:6.2%}"
        )
    print(f"\nper field after 10 keyed: {'precision':>10} {'coverage':>9}   naive precision")
    for name in names:
        tally = curve[10][name]
        print(
            f"  {name:<22} {tally.precision:>10.2%} {tally.coverage:>9.2%}   "
            f"{baseline[name].precision:.2%}"
        )
    made, purity = layout_purity(reads, arguments.seed)
    print(f"\nlayouts: {made} made for {len(LAYOUTS)} suppliers; purity {purity:.2%}")

    at10 = total(curve[10], names)
    naive_all = total(baseline, names)
    figures = [
        {
            "figure": "suggestion precision at 0.8 after 10 keyed documents (ratio: the share)",
            "product": round(at10.precision, 4),
            "baseline": round(naive_all.precision, 4),
            "unit": "share (baseline: first value of the type, no learning)",
            "ratio": round(at10.precision, 4),
            "target": PRECISION_TARGET,
        },
        {
            "figure": "suggestion coverage at 0.8 after 10 keyed documents (ratio: the share)",
            "product": round(at10.coverage, 4),
            "baseline": round(total(curve[0], names).coverage, 4),
            "unit": "share of printed fields (baseline: hints only, nothing learned)",
            "ratio": round(at10.coverage, 4),
            "target": COVERAGE_TARGET,
        },
        {
            "figure": "intake's worker: scanned pages read per second (vs PDF text layer)",
            "product": round(worker_rate, 3),
            "baseline": round(speeds["pdf_pages_per_s"], 2),
            "unit": "pages/s (one worker process, one page at a time)",
            "ratio": round(worker_rate / speeds["pdf_pages_per_s"], 4),
            "target": None,
        },
        {
            "figure": "OCR scanned pages per second, 2 at a time (vs PDF text layer)",
            "product": round(speeds["scan_pages_per_s"], 3),
            "baseline": round(speeds["pdf_pages_per_s"], 2),
            "unit": "pages/s",
            "ratio": round(speeds["scan_pages_per_s"] / speeds["pdf_pages_per_s"], 4),
            "target": None,
        },
    ]
    curve_note = "; ".join(
        f"K={k}: {total(curve[k], names).precision:.2%}/{total(curve[k], names).coverage:.2%}"
        for k in KEYED
    )
    notes = [
        f"{len(samples)} documents ({per_layout} per layout, {scan_share:.0%} scans); "
        f"{TRAIN} per layout keyed in turn, the rest held out",
        f"precision/coverage by keyed documents: {curve_note}",
        f"peak memory: intake's worker {worker_mib:.0f} MiB, one Tesseract {children:.0f} MiB "
        f"(the bench process, which holds the corpus, {own:.0f} MiB)",
        f"layouts made: {made} for {len(LAYOUTS)} suppliers, purity {purity:.2%}",
    ]
    print("RESULT " + json.dumps({"name": "extraction", "figures": figures, "notes": notes}))


if __name__ == "__main__":
    main()
