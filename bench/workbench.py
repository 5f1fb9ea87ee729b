"""Workbench: claim to first page image painted in Chromium, and the bytes the page loads.

    .venv/bin/python bench/workbench.py [--tasks 20] [--quick]

Starts its own durable PostgreSQL and NATS on free ports and the intake service (one uvicorn
worker with its background loops, its document store under `.run/bench/<pid>/documents`;
bench/harness.py). Through the API: a client, one open single-keyed job (two fields with
labels and help, a line of Markdown instructions), `--tasks` distinct two-page invoice PDFs
(fpdf2, bench/document_upload.py's) uploaded in one zip, one item per PDF naming it; then it
waits until intake's renderer has drawn every page (`document.rendered_at`, polled in intake's
database). Two contractors are registered by a manager: the keyer, signed in to /work in
Debian's Chromium (Playwright, launched as bpo_devtools.testing launches it, 1366x768) with
the sign-in form, and a second one over plain HTTP (httpx), who gives the baseline and holds
the queue.

1. Claim to first page image painted (the product): every sample is `N` pressed on the idle
   page, claiming a task whose document this browser has never shown. The page marks
   `claim-start` as the claim starts, `claimed` when it answers, and `painted` once the task's
   first page image is drawn on the canvas (then `body[data-painted="<document>:1"]`); the
   sample is `painted - claim-start` read with `performance.getEntriesByName` after waiting
   for that attribute (marks and resource timings are cleared before each press; the parts
   of each sample are printed too: the claim request, showing the task, the page image's
   request from resource timing, decoding and drawing). For the next press to find
   the page idle and a fresh task, the second contractor first claims every task (holding
   the queue), then for task i: gives it back (the only queued task), takes the baseline
   sample on it (below), gives it back again, and the keyer presses `N`, which can only claim
   task i. The keyer then keys it as a person would (the invoice number, Tab, which checks
   the field with POST /v1/tasks/{id}/check and is waited for, the total) and submits with
   Ctrl+Enter; the page's automatic claim after the submit finds the queue empty ("No task
   available.", waited for), so the page is idle again. Giving tasks back with Alt+Q instead
   would return them to the queue and the next `N` would claim one again, its page image in
   the browser's cache (the signed link is stable for half its lifetime and the image is
   served `immutable`); letting the auto-claim after each submit be the sample would time a
   claim that races the submit's aftermath (its outbox event relayed to NATS).
   Baseline, in the same run, interleaved: the same two steps by the second contractor with
   httpx on a keep-alive connection, no browser: POST /v1/tasks/claim {"limit": 1} with a
   fresh `Idempotency-Key` and `X-BPO-Page: workbench` (what the page sends; the claim keeps
   its tasks' ids under the key) with its bearer token, then GET of the first page's
   `image_url`, timed together per task. The image bytes are the same ones the browser then
   fetches (the server has them in the OS page cache either way: they were just rendered).
   Ratio = baseline p50 / product p50 (and the same for p99); informational, no target.
   Percentiles are nearest rank: p50 is the ceil(n/2)-th fastest, p99 the ceil(0.99 n)-th, so
   with 20 samples (or fewer than 100) p99 is the slowest sample.
2. The workbench's weight: a fresh browser context with the sign-in cookie loads /work, and
   every response it gets is recorded (page.on("response")): the decoded body bytes of the
   scripts and stylesheets (the figure), and the HTML document and the total, for
   information, with the bytes on the wire (intake does not compress) and what gzip -6 makes
   of the script and style. No baseline applies (ratio null).

`--quick`: 5 tasks. It exits 0 whatever the figures; the last line of its output is the
`RESULT {...}` of bench/README.md.
"""

import argparse
import asyncio
import gzip
import io
import json
import math
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from uuid import UUID

import httpx
from document_upload import invoice_pdf
from harness import FullStack, console_rows, full_stack, measured, print_table
from playwright.async_api import Browser, ConsoleMessage, Page, Response, async_playwright

from bpo_cli.signing import Signer
from bpo_common.auth import PAGE_HEADER, Role
from bpo_common.ids import new_id
from bpo_devtools.testing import CHROMIUM, CHROMIUM_ARGS

QUICK_TASKS = 5
CLAIM_LIMIT = 50  # the most one claim may ask for (ClaimRequest.limit)
POLL_S = 0.25
RENDER_TIMEOUT_S = 300.0
STEP_TIMEOUT_MS = 30_000.0  # for any one thing the page is waited for
HOLD_REFRESH_S = 90.0  # the holder's leases (300 s) are extended this often
COOKIE = "bpo_work"
JOB = {
    "work_type": "invoice",
    "fields": [
        {"name": "invoice_number", "type": "string", "label": "Invoice number",
         "help": "As printed at the top, e.g. INV-000007"},
        {"name": "total", "type": "decimal", "label": "Total", "help": "With tax"},
    ],
    "instructions": "Key the invoice **as printed**.\n\n- Totals with tax",
    "qc": {"mode": "single"},
    "sla_hours": 24,
}  # fmt: skip
MARKS = ("claim-start", "claimed", "painted")
# The page's marks, and the page images it fetched (start, end of the response), in ms.
READ_TIMINGS = """() => [
  ...["claim-start", "claimed", "painted"].map(
    (name) => performance.getEntriesByName(name).map((entry) => entry.startTime)),
  performance.getEntriesByType("resource").filter((entry) => entry.name.includes("/pages/"))
    .map((entry) => [entry.startTime, entry.responseEnd]),
]"""
CLEAR_TIMINGS = "() => { performance.clearMarks(); performance.clearResourceTimings(); }"


@dataclass(frozen=True)
class Held:
    """A task the holder claimed, with what the keyer will see of it."""

    id: str
    document_id: str
    number: int  # the invoice's number, INV-<number>


@dataclass(frozen=True)
class Painted:
    """One claim in the page, from its performance marks and resource timing (ms)."""

    total_ms: float  # claim-start to painted
    claim_ms: float  # claim-start to claimed: the claim request as the page sees it
    before_image_ms: float  # claimed to the page image's request: the task shown, the form
    image_ms: float  # the page image's request to the end of its response
    after_image_ms: float  # the image's response to painted: decoded, drawn


@dataclass(frozen=True)
class Sample:
    product: Painted
    baseline_ms: float  # claim + first page image over httpx
    baseline_claim_ms: float  # the claim alone, over httpx
    image_bytes: int


@dataclass(frozen=True)
class Loaded:
    url: str
    kind: str  # Playwright's resource type: document, script, stylesheet, ...
    status: int
    body: bytes
    wire: int  # body bytes as transferred (-1: unknown)


@dataclass(frozen=True)
class Weight:
    loaded: list[Loaded]

    def bytes_of(self, *kinds: str) -> int:
        return sum(len(one.body) for one in self.loaded if not kinds or one.kind in kinds)

    def wire_of(self, *kinds: str) -> int:
        return sum(max(0, one.wire) for one in self.loaded if not kinds or one.kind in kinds)

    def gzipped(self, *kinds: str) -> int:
        return sum(
            len(gzip.compress(one.body, compresslevel=6, mtime=0))
            for one in self.loaded
            if one.kind in kinds
        )


@dataclass
class Run:
    samples: list[Sample]
    weight: Weight
    console: list[str]  # the page's console errors and warnings, and uncaught errors


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The ceil(q n)-th smallest value: p99 of fewer than 100 values is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


# Setup through the API, as a client and a manager would


async def set_up(
    http: httpx.AsyncClient, bench: FullStack, tasks: int
) -> tuple[UUID, dict[str, int]]:
    """A client's open job of `tasks` items, each naming its own two-page PDF, uploaded in
    one zip; rendered. Returns the job's id and each document's invoice number by id."""
    manager = bench.headers(Role.MANAGER)
    client = await http.post("/v1/clients", json={"name": f"Bench {new_id()}"}, headers=manager)
    client.raise_for_status()
    headers = bench.headers(Role.CLIENT, UUID(client.json()["id"]))
    job = await http.post("/v1/jobs", json=JOB, headers=headers)
    job.raise_for_status()
    job_id = UUID(job.json()["id"])
    files = {f"invoice-{n:06d}.pdf": invoice_pdf(n) for n in range(1, tasks + 1)}
    uploaded = await http.post(
        f"/v1/jobs/{job_id}/documents",
        content=zipped(files),
        headers={**headers, "Content-Type": "application/zip"},
    )
    if uploaded.status_code != 201:
        raise RuntimeError(f"the upload failed: {uploaded.status_code} {uploaded.text[:500]}")
    numbers = {
        document["id"]: int(document["filename"].removeprefix("invoice-").removesuffix(".pdf"))
        for document in uploaded.json()["documents"]
    }
    items = [
        {"external_id": f"inv-{n:06d}", "source": {}, "documents": [name]}
        for n, name in enumerate(files, start=1)
    ]
    appended = await http.post(f"/v1/jobs/{job_id}/items", json={"items": items}, headers=headers)
    if appended.status_code != 202:
        raise RuntimeError(f"the items were refused: {appended.status_code} {appended.text}")
    query = (
        "SELECT count(*) AS total, count(rendered_at) AS rendered FROM document WHERE job_id = $1"
    )
    started = perf_counter()
    while True:
        (row,) = await bench.fetch("bpo_intake", query, job_id)
        if int(row["rendered"]) == int(row["total"]) == tasks:
            return job_id, numbers
        if perf_counter() - started > RENDER_TIMEOUT_S:
            raise RuntimeError(f"{row['rendered']} of {tasks} documents rendered in time")
        await asyncio.sleep(POLL_S)


async def contractor(http: httpx.AsyncClient, bench: FullStack, name: str) -> str:
    """A new contractor's token."""
    created = await http.post(
        "/v1/contractors",
        json={"name": f"{name} {new_id()}", "skills": []},
        headers=bench.headers(Role.MANAGER),
    )
    created.raise_for_status()
    return Signer(bench.private_key_pem).token(Role.CONTRACTOR, created.json()["id"])


async def hold_all(
    http: httpx.AsyncClient, headers: dict[str, str], tasks: int, numbers: dict[str, int]
) -> list[Held]:
    """The holder claims every task of the queue (in the order the queue gives them)."""
    held: list[Held] = []
    while len(held) < tasks:
        limit = min(CLAIM_LIMIT, tasks - len(held))
        claimed = await http.post("/v1/tasks/claim", json={"limit": limit}, headers=headers)
        claimed.raise_for_status()
        answer = claimed.json()["tasks"]
        if not answer:
            raise RuntimeError(f"the queue ran dry after {len(held)} of {tasks} tasks")
        for task in answer:
            document_id = task["documents"][0]["id"]
            held.append(Held(task["id"], document_id, numbers[document_id]))
    return held


async def give_back(http: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> None:
    released = await http.post(f"/v1/tasks/{task_id}/release", headers=headers)
    if released.status_code != 204:
        raise RuntimeError(f"release of {task_id}: {released.status_code} {released.text}")


async def baseline(
    http: httpx.AsyncClient, headers: dict[str, str], expected: Held
) -> tuple[float, float, int]:
    """Claim and the first page's image over httpx: (seconds in all, seconds of the claim,
    image bytes)."""
    # As the page claims: a key of its own for each claim, and the page's header.
    as_page = {**headers, "Idempotency-Key": new_id().hex, PAGE_HEADER: "workbench"}
    started = perf_counter()
    claimed = await http.post("/v1/tasks/claim", json={"limit": 1}, headers=as_page)
    claimed.raise_for_status()
    tasks = claimed.json()["tasks"]
    answered = perf_counter()
    if not tasks:
        raise RuntimeError("the baseline's claim found no task")
    image = await http.get(tasks[0]["documents"][0]["pages"][0]["image_url"])
    image.raise_for_status()
    finished = perf_counter()
    if tasks[0]["id"] != expected.id:
        raise RuntimeError(f"the baseline claimed {tasks[0]['id']}, not {expected.id}")
    return finished - started, answered - started, len(image.content)


# The browser


async def signed_in(browser: Browser, url: str, token: str) -> Page:
    """A page of a new context signed in with the sign-in form, on /work."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = await context.new_page()
    await page.goto(f"{url}/work")
    if page.url != f"{url}/work/login":
        raise RuntimeError(f"/work did not send a stranger to sign in: {page.url}")
    await page.fill("#token", token)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/work")
    return page


async def weigh(browser: Browser, url: str, token: str) -> Weight:
    """Everything a fresh context loads for /work, signed in by its cookie."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        await context.add_cookies(
            [{"name": COOKIE, "value": token, "url": url, "httpOnly": True, "sameSite": "Strict"}]
        )
        page = await context.new_page()
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        await page.goto(f"{url}/work", wait_until="networkidle")
        if page.url != f"{url}/work":
            raise RuntimeError(f"the cookie did not sign in: {page.url}")
        loaded = []
        for response in responses:
            sizes = await response.request.sizes()
            loaded.append(
                Loaded(
                    response.url.removeprefix(url),
                    response.request.resource_type,
                    response.status,
                    await response.body(),
                    int(sizes.get("responseBodySize", -1)),
                )
            )
        return Weight(loaded)
    finally:
        await context.close()


async def key_and_submit(page: Page, held: Held) -> None:
    """Key the task as a person would and submit; the page's next claim finds nothing."""
    await page.locator("#status").filter(has_text=f"Task {held.id[-8:]} is yours").wait_for()
    focused = await page.evaluate("() => document.activeElement && document.activeElement.id")
    if focused != "field-invoice_number":
        raise RuntimeError(f"the first field does not have the focus but {focused!r}")
    await page.keyboard.type(f"INV-{held.number:06d}")
    async with page.expect_response(lambda response: response.url.endswith("/check")) as check:
        await page.keyboard.press("Tab")
    if (await check.value).status != 200:
        raise RuntimeError(f"the field check answered {(await check.value).status}")
    await page.keyboard.type(f"{100 + held.number}.50")
    async with page.expect_response(lambda response: response.url.endswith("/submit")) as sent:
        await page.keyboard.press("Control+Enter")
    if (await sent.value).status != 202:
        raise RuntimeError(f"the submit answered {(await sent.value).status}")
    await page.locator("#status").filter(has_text="No task available").wait_for()
    await page.wait_for_selector("body[data-state=idle]")


async def product(page: Page, held: Held) -> Painted:
    """Press N on the idle page; the claim's timings until the first page is painted."""
    await page.evaluate(CLEAR_TIMINGS)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{held.document_id}:1"]')
    starts, claimed, painted, images = await page.evaluate(READ_TIMINGS)
    if not (len(starts) == len(claimed) == len(painted) == len(images) == 1):
        marks = dict(zip(MARKS, (starts, claimed, painted), strict=True))
        raise RuntimeError(f"not one of each: marks {marks}, page images {images}")
    (start, claim_end, paint), (image_start, image_end) = (starts + claimed + painted, images[0])
    return Painted(
        paint - start,
        claim_end - start,
        image_start - claim_end,
        image_end - image_start,
        paint - image_end,
    )


async def measure(bench: FullStack, tasks: int) -> Run:
    url = bench.url("intake")
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:
        _, numbers = await set_up(http, bench, tasks)
        keyer = await contractor(http, bench, "bench keyer")
        holder = {"Authorization": f"Bearer {await contractor(http, bench, 'bench holder')}"}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                weight = await weigh(browser, url, keyer)
                page = await signed_in(browser, url, keyer)
                page.set_default_timeout(STEP_TIMEOUT_MS)
                console: list[str] = []

                def logged(message: ConsoleMessage) -> None:
                    if message.type in ("error", "warning"):
                        console.append(f"{message.type}: {message.text}")

                page.on("console", logged)
                page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
                held = await hold_all(http, holder, tasks, numbers)
                refreshed = perf_counter()
                samples = []
                for n, task in enumerate(held):
                    if perf_counter() - refreshed > HOLD_REFRESH_S:
                        for later in held[n:]:
                            beat = await http.post(
                                f"/v1/tasks/{later.id}/heartbeat", headers=holder
                            )
                            beat.raise_for_status()
                        refreshed = perf_counter()
                    await give_back(http, holder, task.id)
                    total_s, claim_s, image_bytes = await baseline(http, holder, task)
                    await give_back(http, holder, task.id)
                    painted = await product(page, task)
                    samples.append(Sample(painted, 1000 * total_s, 1000 * claim_s, image_bytes))
                    await key_and_submit(page, task)
                await page.context.close()
            finally:
                await browser.close()
    return Run(samples, weight, console)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20, help="tasks claimed in the browser")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_TASKS} tasks")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.tasks = QUICK_TASKS
    count = arguments.tasks
    if not 1 <= count <= 1000:
        parser.error("--tasks must be between 1 and 1,000")
    load_start = os.getloadavg()[0]
    run = measured(full_stack("intake"), lambda bench: measure(bench, count))
    if run is None:
        return 130

    samples = run.samples
    product_ms = [sample.product.total_ms for sample in samples]
    baseline_ms = [sample.baseline_ms for sample in samples]
    p50, p99 = nearest_rank(product_ms, 0.5), nearest_rank(product_ms, 0.99)
    base50, base99 = nearest_rank(baseline_ms, 0.5), nearest_rank(baseline_ms, 0.99)
    parts = {
        "claim-start to claimed": [sample.product.claim_ms for sample in samples],
        "claimed to the image's request": [sample.product.before_image_ms for sample in samples],
        "the image's request and response": [sample.product.image_ms for sample in samples],
        "its response to painted": [sample.product.after_image_ms for sample in samples],
    }
    claim50 = nearest_rank(parts["claim-start to claimed"], 0.5)
    slowest = max(range(count), key=lambda n: product_ms[n])
    base_claim50 = nearest_rank([sample.baseline_claim_ms for sample in samples], 0.5)
    image_bytes = nearest_rank([sample.image_bytes for sample in samples], 0.5)
    weight = run.weight
    script_style = weight.bytes_of("script", "stylesheet")
    p99_says = "the slowest" if count < 100 else "nearest rank"
    rows = [
        ("tasks", f"{count} two-page invoice PDFs, one item each, one job (single keying)"),
        (
            "product: claim-start to painted, ms",
            f"p50 {p50:.1f}, p99 {p99:.1f} ({p99_says} of {count}); min {min(product_ms):.1f}",
        ),
        *(
            (
                f"  {part}, ms",
                f"p50 {nearest_rank(values, 0.5):.1f}, slowest sample's {values[slowest]:.1f}",
            )
            for part, values in parts.items()
        ),
        ("  the slowest sample", f"task {slowest + 1} of {count}"),
        (
            "baseline: httpx claim + first page GET, ms",
            f"p50 {base50:.1f}, p99 {base99:.1f}; min {min(baseline_ms):.1f}",
        ),
        ("  of which the claim, p50 ms", f"{base_claim50:.1f}"),
        ("ratio baseline / product", f"p50 {base50 / p50:.3f}, p99 {base99 / p99:.3f} (no target)"),
        ("first page image, p50 bytes", f"{image_bytes:,.0f} (WebP)"),
        ("every sample, product ms", " ".join(f"{value:.0f}" for value in product_ms)),
        ("every sample, baseline ms", " ".join(f"{value:.0f}" for value in baseline_ms)),
        (
            "/work loads: script + style bytes",
            f"{script_style:,} (script {weight.bytes_of('script'):,}, "
            f"style {weight.bytes_of('stylesheet'):,}; gzip -6 would make them "
            f"{weight.gzipped('script', 'stylesheet'):,})",
        ),
        (
            "/work loads: HTML / total bytes",
            f"{weight.bytes_of('document'):,} / {weight.bytes_of():,} in "
            f"{len(weight.loaded)} responses ({weight.wire_of():,} bytes of bodies on the wire)",
        ),
    ]
    rows += [
        (f"  {one.kind} {one.status}", f"{one.url} {len(one.body):,} bytes (wire {one.wire:,})")
        for one in weight.loaded
    ]
    rows += [
        *console_rows(run.console),
    ]
    print_table("workbench", rows, load_start)

    figure = f"claim to first page image painted in Chromium ({count} tasks, Playwright marks)"
    baseline_is = "httpx claim + GET of the first page image"
    figures: list[dict[str, Any]] = [
        {
            "figure": f"workbench: {figure}, p50, vs {baseline_is}",
            "product": round(p50, 1),
            "baseline": round(base50, 1),
            "unit": "ms",
            "ratio": round(base50 / p50, 3),
            "target": None,
        },
        {
            "figure": f"workbench: {figure}, p99 ({p99_says} of {count}), vs {baseline_is}",
            "product": round(p99, 1),
            "baseline": round(base99, 1),
            "unit": "ms",
            "ratio": round(base99 / p99, 3),
            "target": None,
        },
        {
            "figure": "workbench weight: script + style bytes /work loads (no baseline)",
            "product": script_style,
            "baseline": None,
            "unit": "bytes",
            "ratio": None,
            "target": None,
        },
        {
            "figure": "workbench weight: every byte /work loads, HTML included (no baseline)",
            "product": weight.bytes_of(),
            "baseline": None,
            "unit": "bytes",
            "ratio": None,
            "target": None,
        },
    ]
    notes = [
        f"{count} tasks, each a fresh two-page invoice: N pressed on the idle page; product = "
        "performance marks claim-start to painted (first page drawn on the canvas); baseline "
        "= the same claim and image GET by a second contractor over httpx, interleaved",
        f"claim as the page sees it (claim-start to claimed) p50 {claim50:.1f} ms, over httpx "
        f"{base_claim50:.1f} ms; first page image p50 {image_bytes:,.0f} bytes",
        f"/work loads HTML {weight.bytes_of('document'):,}, script {weight.bytes_of('script'):,}"
        f", style {weight.bytes_of('stylesheet'):,} bytes, uncompressed "
        f"(gzip -6: {weight.gzipped('script', 'stylesheet'):,} bytes of script + style)",
    ]
    if run.console:
        notes.append(f"the page logged {len(run.console)} console errors or warnings")
    http_load = (
        "Chromium (Playwright) and httpx, one request at a time, from the benchmark process "
        "(not pinned)"
    )
    result = {"name": "workbench", "figures": figures, "notes": notes, "http_load": http_load}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
