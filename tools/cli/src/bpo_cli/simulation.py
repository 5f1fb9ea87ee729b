"""Simulated contractors keying a job through the real HTTP API, with a known ground truth.

Each item's `source` is the document as it really is (the truth). A keyer reads it and,
with their error rate, mistypes a field now and then; a reviewer or adjudicator re-reads
the fields the entries disagree on (all of them for a review) with their own error rate and
keeps the fields the entries agree on. At the end the job's results are compared with the
truth: items exactly right, fields right, keyings per item, and how long decisions took.
The outcome also says who did what: each keyer's contractor id, every entry keying in the
order submitted, the items one person settled, and the keyers refused work as suspended
(who then stop: their claims and submits would be refused from then on).
With documents, each item also comes as its invoice's PDF, and a keyer opens the page image
of a task's document, as a person's browser would, before keying it. The keyers start once
intake has read every item's documents: people key far slower than the simulation, so in
practice extraction runs ahead of them, while simulated keyers would claim every task before
it. An entry task that comes with machine pre-fill is keyed as a person checks one: a right
value is kept, a wrong one typed over (or, now and then, kept unnoticed).

Requests go as a careful client sends them: a connection error, a timeout or a 5xx is
retried after a growing delay (and counted), a POST that creates something carries an
Idempotency-Key, and a submit whose answer was lost is known to have landed when the retry
says the task is no longer leased. So the simulation keeps working while services restart.

`bpo demo`, the chaos run and the benchmarks (bench/qc_simulator.py, bench/end_to_end.py)
run on this.
"""

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from bpo_cli.invoices import invoice_pdf, zipped
from bpo_cli.signing import Signer
from bpo_common.auth import Role
from bpo_common.ids import new_id

# `hints`: the labels the invoice PDF (bpo_cli.invoices) prints beside each value, so that
# machine pre-fill suggests them from the first document on. The vendor's name stands alone
# at the top, with no label: only a layout that learned where it is suggests it.
FIELDS: list[dict[str, Any]] = [
    {
        "name": "invoice_number",
        "type": "string",
        "case": "upper",
        "hints": {"labels": ["Invoice number"]},
    },
    {"name": "vendor", "type": "string"},
    {
        "name": "total",
        "type": "decimal",
        "decimal_places": 2,
        "min": 0,
        "hints": {"labels": ["Total due"]},
    },
    {"name": "issued_on", "type": "date", "hints": {"labels": ["Date"]}},
    {
        "name": "currency",
        "type": "enum",
        "choices": ["EUR", "USD", "GBP"],
        "hints": {"labels": ["Currency"]},
    },
]
VENDORS = ("Acme GmbH", "Globex Ltd", "Initech Inc", "Umbrella Corp", "Hooli SA", "Soylent BV")
WORK_TYPE = "invoice"
CLAIM_BATCH = 10
# A keyer who finds no work waits this long, then twice as long, up to IDLE_MAX_S.
IDLE_FIRST_S, IDLE_MAX_S = 0.1, 2.0
# A request that failed for want of a server is tried again after RETRY_FIRST_S, doubling
# up to RETRY_MAX_S, for at most RETRY_FOR_S.
RETRY_FIRST_S, RETRY_MAX_S, RETRY_FOR_S = 0.05, 1.0, 180.0
ITEMS_PER_REQUEST = 5000
# A page image still being rendered is asked for again after its Retry-After, for so long.
RENDER_WAIT_S = 60.0
# How often a keyer keeps a wrong pre-filled value without noticing.
BLIND = 0.05


@dataclass(frozen=True)
class Keyer:
    """A simulated contractor: how often an item they key is exactly right; with `qc` they
    review and adjudicate (only). `blind`: how often they keep a wrong pre-filled value
    without noticing (they type over the others)."""

    item_accuracy: float
    qc: bool = False
    blind: float = BLIND

    def field_error(self) -> float:
        """The per-field error rate that gives `item_accuracy` over all fields."""
        return 1 - float(self.item_accuracy ** (1 / len(FIELDS)))


@dataclass(frozen=True)
class Claim:
    """A task leased to a simulated contractor, as the claim answered, and when that lease
    ended on the contractor's side (submitted or given up), if it did."""

    task_id: str
    contractor: str
    lease_expires_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Suspension:
    """A keyer refused work as suspended: after how many of their entry keyings had been
    submitted, and how many seconds into the run."""

    contractor_id: str
    entries: int
    seconds: float


@dataclass(frozen=True)
class Endpoints:
    intake: str
    signer: Signer

    def headers(self, role: Role, subject: str, client_id: UUID | None = None) -> dict[str, str]:
        return self.signer.headers(role, subject, client_id)


@dataclass
class Progress:
    """What the simulated contractors have done so far; `on_change` sees it as it moves."""

    items: int
    keyings: int = 0
    # Keyings the simulation knows to be exactly right (it holds the truth; the product not).
    keyings_right: int = 0
    # Review and adjudication tasks submitted; `adjudications` of them adjudications.
    reviews: int = 0
    adjudications: int = 0
    # Page images the contractors opened (with documents).
    pages_viewed: int = 0
    # What the keyings did with machine pre-fill: see `Keying`; and how many keyings' tasks
    # came with any.
    fields_typed: int = 0
    fields_kept: int = 0
    wrong_kept: int = 0
    prefilled_keyings: int = 0
    # Tasks submitted per item (by id), of every kind: an item with one was settled by one
    # person.
    submitted: Counter[str] = field(default_factory=Counter)
    # Entry keyings as (item id, contractor id), in the order submitted.
    entries: list[tuple[str, str]] = field(default_factory=list)
    suspensions: list[Suspension] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def done(self) -> int:
        return self.counts.get("completed", 0) + self.counts.get("rejected", 0)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True)
class Outcome:
    job_id: UUID
    client_id: UUID
    mode: str
    items: int
    golden: int
    scored_items: int
    exactly_right: int
    fields_right: int
    fields_scored: int
    keyings: int
    reviews: int
    seconds: float
    latencies: Sequence[float]
    # Requests that failed for want of a server (connection error, timeout, 5xx) and were
    # sent again.
    failed_requests: int = 0
    # Documents uploaded (one invoice PDF an item), and page images the contractors opened.
    documents: int = 0
    pages_viewed: int = 0
    # How long the keyers waited for intake to read the documents (with documents).
    extraction_wait_s: float = 0.0
    # Fields typed, and pre-filled fields kept (wrong ones among them), over all keyings;
    # keyings whose task came with pre-fill; scored items completed with one task submitted
    # (a control item is, whatever the mode: its known answer stands after one keying).
    fields_typed: int = 0
    fields_kept: int = 0
    wrong_kept: int = 0
    prefilled_keyings: int = 0
    settled_by_one: int = 0
    # Of `reviews` (review and adjudication tasks), the adjudications.
    adjudications: int = 0
    # Each keyer's contractor id, in the order the keyers were given, and the skill they were
    # registered with, which the job required.
    contractors: tuple[str, ...] = ()
    skill: str = ""
    # Entry keyings as (item id, contractor id), in the order submitted: an item's first is
    # its first keying.
    entries: tuple[tuple[str, str], ...] = ()
    # The scored items completed with one task submitted (`settled_by_one` of them), and the
    # control items, by id.
    alone: frozenset[str] = frozenset()
    controls: frozenset[str] = frozenset()
    # The scored items whose result is not exactly right, by id.
    wrong: frozenset[str] = frozenset()
    # Keyers refused work as suspended, who stopped then.
    suspensions: tuple[Suspension, ...] = ()

    @property
    def item_accuracy(self) -> float:
        return self.exactly_right / self.scored_items if self.scored_items else 0.0

    @property
    def field_accuracy(self) -> float:
        return self.fields_right / self.fields_scored if self.fields_scored else 0.0

    @property
    def keyings_per_item(self) -> float:
        return self.keyings / self.items if self.items else 0.0

    @property
    def control_keyings(self) -> int:
        """Entry keyings of control items."""
        return sum(item in self.controls for item, _ in self.entries)

    @property
    def entry_keyings_per_item(self) -> float:
        """Entry keyings per scored item: control items and their keyings aside (as reviews
        and adjudications are)."""
        scored = self.keyings - self.control_keyings
        return scored / self.scored_items if self.scored_items else 0.0

    @property
    def typed_per_item(self) -> float:
        """Fields people typed per item, over the fields an item has: 1.0 is every field typed
        once, as single keying does; double keying without pre-fill types 2.0."""
        return self.fields_typed / (self.items * len(FIELDS)) if self.items else 0.0

    @property
    def settled_by_one_share(self) -> float:
        return self.settled_by_one / self.scored_items if self.scored_items else 0.0

    def latency(self, quantile: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def document(rng: random.Random, number: int) -> dict[str, str]:
    """One invoice as it really is."""
    issued = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(300))
    return {
        "invoice_number": f"INV-{number:07d}",
        "vendor": rng.choice(VENDORS),
        "total": str(Decimal(rng.randrange(100, 1_000_000)) / 100),
        "issued_on": issued.date().isoformat(),
        "currency": rng.choice(("EUR", "USD", "GBP")),
    }


def mistype(rng: random.Random, name: str, value: str, keyer: int | None = None) -> str:
    """A plausible keying slip that still passes the field's rules. With `keyer` (a number
    below 5), the slip is that keyer's own: two keyers never make the same one."""
    if keyer is not None:
        return _own_slip(rng, name, value, keyer)
    if name == "currency":
        return rng.choice([c for c in ("EUR", "USD", "GBP") if c != value])
    if name == "vendor":
        return rng.choice([v for v in VENDORS if v != value])
    if name == "issued_on":
        day = datetime.fromisoformat(value) + timedelta(days=rng.choice((-1, 1, 10, -10)))
        return day.date().isoformat()
    if name == "total":
        return str(Decimal(value) + Decimal(rng.choice((1, 9, 10, 90, -1))) / 100)
    return _digit_slip(rng, value, rng.randrange(1, 10))


def _own_slip(rng: random.Random, name: str, value: str, keyer: int) -> str:
    if name == "vendor":
        return VENDORS[(VENDORS.index(value) + 1 + keyer) % len(VENDORS)]
    if name == "issued_on":
        day = datetime.fromisoformat(value) + timedelta(days=keyer + 1)
        return day.date().isoformat()
    if name == "total":
        return str(Decimal(value) + Decimal(keyer + 1) / 100)
    # A digit of the invoice number (an enum has too few wrong choices to be anyone's own).
    return _digit_slip(rng, value, keyer + 1)


def _digit_slip(rng: random.Random, value: str, by: int) -> str:
    position = rng.randrange(4, len(value))
    digit = str((int(value[position]) + by) % 10)
    return value[:position] + digit + value[position + 1 :]


def keyed(
    rng: random.Random,
    truth: dict[str, str],
    error: float,
    names: Sequence[str],
    keyer: int | None = None,
) -> dict[str, str]:
    """The fields `names` as a keyer with per-field error rate `error` types them (`keyer`:
    the slips are that keyer's own; see `mistype`)."""
    slippable = [name for name in names if keyer is None or name != "currency"]
    return {
        name: mistype(rng, name, truth[name], keyer)
        if name in slippable and rng.random() < error * len(names) / len(slippable)
        else truth[name]
        for name in names
    }


@dataclass(frozen=True)
class Keying:
    """An entry task as a keyer keyed it: the data, how many fields they typed, how many
    pre-filled values they kept as shown, and how many of those were wrong."""

    data: dict[str, str]
    typed: int
    kept: int
    wrong_kept: int


def prefilled(
    rng: random.Random,
    truth: dict[str, str],
    suggestions: dict[str, Any],
    keyer: Keyer,
    names: Sequence[str],
    own: int | None = None,
) -> Keying:
    """The fields `names` as `keyer` keys them with the machine's `suggestions` (a task's
    `{field: {value, ...}}`) filled in: a value that is right is kept; a wrong one is noticed
    and typed over, except with probability `keyer.blind`; a field without one is typed.
    Typing slips at the keyer's rate (see `keyed`; `own`: the slips are that keyer's own)."""
    kept: dict[str, str] = {}
    wrong = 0
    for name in names:
        if name not in suggestions:
            continue
        value = str(suggestions[name]["value"])
        right = _means(name, value, truth[name])
        if right or rng.random() < keyer.blind:
            kept[name] = value
            wrong += not right
    typed = [name for name in names if name not in kept]
    data = {**keyed(rng, truth, keyer.field_error(), typed, own), **kept}
    return Keying(data, len(typed), len(kept), wrong)


def _means(name: str, value: str, truth: str) -> bool:
    """Whether a keyed or suggested value says what the truth does (an amount whatever its
    decimal places: suggestions are canonical, 1234.5 for 1234.50)."""
    if name == "total":
        return Decimal(value) == Decimal(truth)
    return _same(value, truth)


def reviewed(
    rng: random.Random, truth: dict[str, str], entries: Sequence[dict[str, Any]], error: float
) -> dict[str, str]:
    """A reviewer keeps what the entries agree on (when there are two) and re-reads the rest."""
    names = [spec["name"] for spec in FIELDS]
    if len(entries) < 2:
        return keyed(rng, truth, error, names)
    agreed = {
        name: entries[0][name]
        for name in names
        if all(_same(entry.get(name), entries[0].get(name)) for entry in entries)
    }
    return {**keyed(rng, truth, error, [n for n in names if n not in agreed]), **agreed}


def _same(a: object, b: object) -> bool:
    return str(a).strip().casefold() == str(b).strip().casefold()


class Refused(RuntimeError):
    """The platform answered a request with a 4xx the simulation did not expect."""


class Simulation:
    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints,
        *,
        seed: int = 7,
        on_change: Callable[[Progress], None] | None = None,
    ) -> None:
        self.http = http
        self.endpoints = endpoints
        self.rng = random.Random(seed)
        self.on_change = on_change or (lambda progress: None)
        self.manager = endpoints.headers(Role.MANAGER, "simulation")
        self.failed_requests = 0
        self.documents_uploaded = 0
        self.claims: list[Claim] = []
        # When a claim brought work, and how many items were final when: for recovery times.
        self.claimed_at: list[float] = []
        self.final_at: list[tuple[float, int]] = []
        self.flagged_requeued = 0

    async def send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        expect: Sequence[int] = (),
        first_timeout_s: float | None = None,
        **request: Any,
    ) -> httpx.Response:
        """Send a request to intake as a careful client does: while the answer is a connection
        error, a timeout, a 5xx or a 409 "still running" of an Idempotency-Key, send it again
        after a growing delay. A 4xx other than those in `expect` is a Refused.
        `first_timeout_s`: the first try gives up this soon (then the client's own timeout)."""
        delay, deadline = RETRY_FIRST_S, time.monotonic() + RETRY_FOR_S
        timeout = first_timeout_s
        while True:
            try:
                response = await self.http.request(
                    method,
                    f"{self.endpoints.intake}{path}",
                    headers=headers,
                    timeout=timeout or self.http.timeout,
                    **request,
                )
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                running = response.status_code == 409 and "Idempotency-Key" in headers
                if response.status_code < 500 and not running:
                    if response.status_code >= 400 and response.status_code not in expect:
                        raise Refused(f"{method} {path}: {response.status_code} {response.text}")
                    return response
                failure = f"{response.status_code} {response.text[:200]}"
            self.failed_requests += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} kept failing: {failure}")
            await asyncio.sleep(delay)
            delay, timeout = min(delay * 2, RETRY_MAX_S), None

    async def _post(self, path: str, body: object, headers: dict[str, str]) -> Any:
        response = await self.send("POST", path, headers, json=body)
        return response.json() if response.content else None

    async def _get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        return (await self.send("GET", path, headers, params=params)).json()

    async def client(self, name: str) -> UUID:
        created = await self._post("/v1/clients", {"name": name}, self._once(self.manager))
        return UUID(created["id"])

    @staticmethod
    def _once(headers: dict[str, str]) -> dict[str, str]:
        """Headers for a POST that creates something: sent again, it creates nothing more."""
        return {**headers, "Idempotency-Key": str(new_id())}

    async def run(
        self,
        client_id: UUID,
        *,
        items: int,
        keyers: Sequence[Keyer],
        mode: str = "double",
        golden_share: float = 0.05,
        review_sample_rate: str = "0",
        target_accuracy: str = "0.995",
        sla_hours: int | None = 24,
        until_keyed: bool = False,
        own_slips: bool = False,
        submits_per_second: float | None = None,
        requeue_flagged: bool = False,
        lost_answer: bool = False,
        stall_s: float | None = None,
        documents: bool = False,
        work_type: str = WORK_TYPE,
        returning: Outcome | None = None,
    ) -> Outcome:
        """Push a job of `items` invoices, key it with `keyers` until every item is final (or,
        `until_keyed`, until each item has been keyed once: claim and submit alone).

        `own_slips`: no two keyers make the same slip, so that two keyings that agree are right.
        `submits_per_second`: the crew together submits no faster. `requeue_flagged`: as a
        manager, give flagged items a fresh task. `lost_answer`: the answer to one request of
        items is lost (a timeout) and the request is sent again with the same key. `stall_s`:
        give up on a job whose items stop becoming final for this long (the outcome then says
        how far it got). `documents`: each item's invoice is uploaded as a PDF (in a zip, before
        the items that name it), the keyers start once intake has read them all, and a
        contractor opens a task's page image before keying; keyers key from the machine's pre-fill
        where a task shows some (see `prefilled`). `work_type`: the job's (adaptive QC and the
        quality floor know keyers by work type: a work type of its own keeps a run apart from
        others' records). `returning`: an earlier run whose contractors key this job too, the
        n-th of `keyers` as its n-th contractor (as a work type's contractors key job after
        job in production, validation knowing them from the jobs before)."""
        if returning is None:
            skill = f"sim-{new_id().hex[-10:]}"  # these keyers take only this job's tasks
            crew = [(await self._contractor(keyer, skill), keyer) for keyer in keyers]
        else:
            skill = returning.skill
            crew = list(zip(returning.contractors, keyers, strict=True))
        as_client = self.endpoints.headers(Role.CLIENT, f"client-{client_id}", client_id)
        truths = {f"doc-{n}": document(self.rng, n) for n in range(items)}
        golden = set(self.rng.sample(sorted(truths), int(items * golden_share)))
        job = await self._post(
            "/v1/jobs",
            {
                "work_type": work_type,
                "fields": FIELDS,
                "qc": {
                    "mode": mode,
                    "review_sample_rate": review_sample_rate,
                    "target_accuracy": target_accuracy,
                },
                "sla_hours": sla_hours,
                "required_skills": [skill],
                "external_ref": f"simulation {skill}",
            },
            self._once(as_client),
        )
        job_id = UUID(job["id"])
        progress = Progress(items=items)
        submitted_at: dict[str, float] = {}
        await self._append(
            job_id, truths, golden, as_client, lost_answer=lost_answer, documents=documents
        )
        await self._post(f"/v1/jobs/{job_id}/close", {}, as_client)
        waited = await self._extracted(job_id, as_client) if documents else 0.0

        finished = asyncio.Event()
        pace = _Pace(submits_per_second)
        moved = time.time()
        workers = [
            asyncio.create_task(
                self._work(
                    job_id, contractor_id, keyer, truths, progress, submitted_at, finished, pace,
                    number if own_slips and not keyer.qc else None,
                )
            )
            for number, (contractor_id, keyer) in enumerate(crew)
        ]  # fmt: skip
        try:
            while not finished.is_set():
                for worker in workers:
                    if worker.done():
                        worker.result()  # a keyer who stopped early stops the run: say why
                status = await self._get(f"/v1/jobs/{job_id}", as_client)
                progress.counts = status["counts"]
                if not self.final_at or progress.done > self.final_at[-1][1]:
                    moved = time.time()
                self.final_at.append((time.time(), progress.done))
                self.on_change(progress)
                if requeue_flagged:
                    await self._requeue_flagged()
                stalled = stall_s is not None and time.time() - moved > stall_s
                if (
                    stalled
                    or status["status"] in ("completed", "cancelled")
                    or (until_keyed and progress.keyings >= items)
                ):
                    finished.set()
                else:
                    await asyncio.sleep(0.1)
        finally:
            finished.set()
            await asyncio.gather(*workers)
        seconds = progress.elapsed()
        outcome = await self._score(job_id, client_id, mode, truths, golden, progress, seconds,
                                    waited, submitted_at, as_client)  # fmt: skip
        return replace(
            outcome, contractors=tuple(contractor for contractor, _ in crew), skill=skill
        )

    async def _append(
        self, job_id: UUID, truths: dict[str, dict[str, str]], golden: set[str],
        headers: dict[str, str], *, lost_answer: bool, documents: bool,
    ) -> None:  # fmt: skip
        """Append the items, ITEMS_PER_REQUEST a request; with `documents`, each request's
        invoices are uploaded first, one zip of PDFs named after the items."""
        names = sorted(truths)
        for start in range(0, len(names), ITEMS_PER_REQUEST):
            chunk = names[start : start + ITEMS_PER_REQUEST]
            if documents:
                pdfs = {f"{name}.pdf": invoice_pdf(truths[name]) for name in chunk}
                await self._upload(job_id, pdfs, headers)
            batch = [
                {"external_id": name, "source": truths[name]}
                | ({"golden": truths[name]} if name in golden else {})
                | ({"documents": [f"{name}.pdf"]} if documents else {})
                for name in chunk
            ]
            # A timeout too short for the answer: the client sends the request again with the
            # same key, and gets the first answer, whether or not the first request landed.
            response = await self.send(
                "POST", f"/v1/jobs/{job_id}/items", self._once(headers), json={"items": batch},
                first_timeout_s=0.005 if lost_answer and start == 0 else None,
            )  # fmt: skip
            if response.json() != {"accepted": len(batch)}:
                raise RuntimeError(f"items of job {job_id}: {response.text}")

    async def _upload(self, job_id: UUID, files: dict[str, bytes], headers: dict[str, str]) -> None:
        """Attach `files` (name: bytes) to the job in one zip: all are stored, or none."""
        response = await self.send(
            "POST", f"/v1/jobs/{job_id}/documents", {**headers, "Content-Type": "application/zip"},
            content=zipped(files),
        )  # fmt: skip
        stored = response.json()["documents"]
        if [document["filename"] for document in stored] != list(files):
            raise RuntimeError(f"documents of job {job_id}: {response.text[:500]}")
        self.documents_uploaded += len(stored)

    async def _extracted(self, job_id: UUID, headers: dict[str, str]) -> float:
        """Wait until intake has read every item's documents (each item has its layout, and
        what pre-fill it could make), and say how long that took; a RuntimeError once no more
        are read for RENDER_WAIT_S."""
        started = time.perf_counter()
        unread, moved = -1, time.monotonic()
        while True:
            left, cursor = 0, None
            while True:
                params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
                page = await self._get(f"/v1/jobs/{job_id}/items", headers, **params)
                left += sum(item["layout_id"] is None for item in page["data"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            if not left:
                return time.perf_counter() - started
            if left != unread:
                unread, moved = left, time.monotonic()
            elif time.monotonic() - moved > RENDER_WAIT_S:
                raise RuntimeError(f"job {job_id}: {left} items unread after {RENDER_WAIT_S} s")
            await asyncio.sleep(0.5)

    async def _requeue_flagged(self) -> None:
        flagged = await self._get("/v1/items/flagged", self.manager, limit=100)
        for item in flagged["data"]:
            response = await self.send(
                "POST", f"/v1/items/{item['id']}/requeue", self.manager, expect=(409,)
            )
            self.flagged_requeued += response.status_code == 200

    async def _contractor(self, keyer: Keyer, skill: str) -> str:
        skills = [skill, "qc"] if keyer.qc else [skill]
        created = await self._post(
            "/v1/contractors",
            {"name": f"simulated keyer {skill}", "skills": skills},
            self._once(self.manager),
        )
        contractor_id: str = created["id"]
        return contractor_id

    async def _work(
        self,
        job_id: UUID,
        contractor_id: str,
        keyer: Keyer,
        truths: dict[str, dict[str, str]],
        progress: Progress,
        submitted_at: dict[str, float],
        finished: asyncio.Event,
        pace: "_Pace",
        own_slips: int | None,
    ) -> None:
        # Reviewers only review: a reviewer who keyed an item could not adjudicate it.
        kinds = ["review", "adjudication"] if keyer.qc else ["entry"]
        error = keyer.field_error()
        names = [spec["name"] for spec in FIELDS]
        headers = self.endpoints.headers(Role.CONTRACTOR, contractor_id)
        try:
            async for tasks in self.claimed(job_id, kinds, headers, finished):
                self.claimed_at.append(time.time())
                for task in tasks:
                    await self._do(task, contractor_id, keyer, error, names, headers, progress,
                                   submitted_at, pace, own_slips)  # fmt: skip
        except Refused:
            # Suspended (validation judged them under the quality floor): no more work for
            # them; the tasks they held go back to the queue when their leases run out.
            contractor = await self._get(f"/v1/contractors/{contractor_id}", self.manager)
            if contractor["status"] != "suspended":
                raise
            theirs = sum(who == contractor_id for _, who in progress.entries)
            progress.suspensions.append(Suspension(contractor_id, theirs, progress.elapsed()))

    async def _do(
        self,
        task: dict[str, Any],
        contractor_id: str,
        keyer: Keyer,
        error: float,
        names: list[str],
        headers: dict[str, str],
        progress: Progress,
        submitted_at: dict[str, float],
        pace: "_Pace",
        own_slips: int | None,
    ) -> None:
        """Key, review or adjudicate one claimed task and submit it; counted once submitted."""
        lease = datetime.fromisoformat(task["lease_expires_at"])
        for document in task["documents"]:
            await self._open(document["id"], headers)
            progress.pages_viewed += 1
        truth = task["source"]
        keying: Keying | None = None
        # A partial second keying keys the fields it names only.
        keyed = task.get("keyed_fields") or names
        if task["kind"] == "entry":
            keying = prefilled(self.rng, truth, task["suggestions"], keyer, keyed, own_slips)
            data = keying.data
        else:
            entries = [entry["data"] for entry in task["entries"] or []]
            data = reviewed(self.rng, truth, entries, error)
        await pace.wait()
        # A 409 says the task is not leased to this keyer any more: an earlier try of this
        # submit landed and its answer was lost, or the lease ran out.
        await self.send(
            "POST", f"/v1/tasks/{task['id']}/submit", headers, json={"data": data}, expect=(409,)
        )
        if keying is not None:
            progress.keyings += 1
            progress.keyings_right += all(_means(n, data[n], truth[n]) for n in keyed)
            progress.fields_typed += keying.typed
            progress.fields_kept += keying.kept
            progress.wrong_kept += keying.wrong_kept
            progress.prefilled_keyings += bool(task["suggestions"])
            progress.entries.append((task["item_id"], contractor_id))
        else:
            progress.reviews += 1
            progress.adjudications += task["kind"] == "adjudication"
        self.claims.append(Claim(task["id"], contractor_id, lease, datetime.now(UTC)))
        submitted_at[task["item_id"]] = time.time()
        progress.submitted[task["item_id"]] += 1

    async def claimed(
        self, job_id: UUID, kinds: list[str], headers: dict[str, str], stop: asyncio.Event
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The job's tasks of these kinds as a contractor claims them, a batch at a time, until
        `stop` is set; after an empty claim they look again a little later each time, as a
        person would. Each claim has an Idempotency-Key of its own, so that one sent again
        after a lost answer gives the tasks it leased rather than lease more."""
        idle = IDLE_FIRST_S
        while not stop.is_set():
            claimed = await self._post(
                "/v1/tasks/claim",
                {"limit": CLAIM_BATCH, "kinds": kinds, "job_id": str(job_id)},
                headers | {"Idempotency-Key": f"claim-{new_id()}"},
            )
            if not claimed["tasks"]:
                await asyncio.sleep(idle)
                idle = min(idle * 2, IDLE_MAX_S)
                continue
            idle = IDLE_FIRST_S
            yield claimed["tasks"]

    async def _open(self, document_id: str, headers: dict[str, str]) -> None:
        """Open a document as a contractor's browser does: the document with their token, then
        its first page's image through the signed link it gives (no token), asked for again
        after the Retry-After while intake is still rendering it."""
        view = await self._get(f"/v1/documents/{document_id}", headers)
        deadline = time.monotonic() + RENDER_WAIT_S
        while True:
            image = await self.send("GET", view["pages"][0]["image_url"], {}, expect=(409,))
            if image.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"document {document_id}: no page image after {RENDER_WAIT_S} s")
            await asyncio.sleep(float(image.headers.get("Retry-After", "1")))

    async def _score(
        self,
        job_id: UUID,
        client_id: UUID,
        mode: str,
        truths: dict[str, dict[str, str]],
        golden: set[str],
        progress: Progress,
        seconds: float,
        extraction_wait_s: float,
        submitted_at: dict[str, float],
        headers: dict[str, str],
    ) -> Outcome:
        right = scored_fields = scored_items = 0
        alone: set[str] = set()
        controls: set[str] = set()
        wrong: set[str] = set()
        latencies: list[float] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = await self._get(f"/v1/jobs/{job_id}/items", headers, **params)
            for item in page["data"]:
                if item["completed_at"] and item["id"] in submitted_at:
                    done = datetime.fromisoformat(item["completed_at"]).timestamp()
                    latencies.append(max(0.0, done - submitted_at[item["id"]]))
                if item["external_id"] in golden:
                    controls.add(item["id"])
                if item["external_id"] in golden or item["result"] is None:
                    continue
                truth = truths[item["external_id"]]
                matches = Counter(
                    _same(item["result"].get(name), canonical)
                    for name, canonical in _canonical(truth).items()
                )
                scored_items += 1
                if item["status"] == "completed" and progress.submitted[item["id"]] == 1:
                    alone.add(item["id"])
                scored_fields += len(truth)
                right += matches[True]
                if matches[False]:
                    wrong.add(item["id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return Outcome(
            job_id=job_id,
            client_id=client_id,
            mode=mode,
            items=len(truths),
            golden=len(golden),
            scored_items=scored_items,
            exactly_right=scored_items - len(wrong),
            fields_right=right,
            fields_scored=scored_fields,
            keyings=progress.keyings,
            reviews=progress.reviews,
            seconds=seconds,
            latencies=latencies,
            failed_requests=self.failed_requests,
            documents=self.documents_uploaded,
            pages_viewed=progress.pages_viewed,
            extraction_wait_s=extraction_wait_s,
            fields_typed=progress.fields_typed,
            fields_kept=progress.fields_kept,
            wrong_kept=progress.wrong_kept,
            prefilled_keyings=progress.prefilled_keyings,
            settled_by_one=len(alone),
            adjudications=progress.adjudications,
            entries=tuple(progress.entries),
            alone=frozenset(alone),
            controls=frozenset(controls),
            wrong=frozenset(wrong),
            suspensions=tuple(progress.suspensions),
        )


def _canonical(truth: dict[str, str]) -> dict[str, str]:
    """The truth as results spell it (upper-case invoice numbers, two-place totals)."""
    return {**truth, "invoice_number": truth["invoice_number"].upper(),
            "total": f"{Decimal(truth['total']):.2f}"}  # fmt: skip


class _Pace:
    """At most `per_second` submits a second, across the whole crew (None: no limit)."""

    def __init__(self, per_second: float | None) -> None:
        self._gap = 1 / per_second if per_second else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self._gap:
            return
        now = time.monotonic()
        self._next = max(self._next + self._gap, now)
        await asyncio.sleep(self._next - now)
