"""`bpo demo --ap`: accounts payable. Invoices with lines are matched against the client's
purchase orders and goods receipts, and what does not match waits in the exception queue.

The client uploads its orders and receipts to validation, then pushes a job of invoices, each
against an order of its own, most of them as ordered and received and one for each way an
invoice can fail to match. Simulated contractors key every invoice exactly as it is (single
keying, nothing sampled for review), so what is matched is what the scenario built. Two
invoices need others matched first (one bills an order line again, one is sent a second
time): they are pushed once the rest are final or exceptions. Then the client's accounts
payable resolves three exceptions (accepts one, corrects one, rejects one).
"""

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple
from uuid import UUID

import httpx
from rich.console import Console
from rich.table import Table

from bpo_cli.simulation import (
    VENDORS,
    Endpoints,
    Keyer,
    Progress,
    Refused,
    Simulation,
)
from bpo_common.auth import Role
from bpo_common.ids import new_id

TABLE = "lines"
FIELDS: list[dict[str, Any]] = [
    {"name": "vendor", "type": "string"},
    {"name": "number", "type": "string", "case": "upper", "label": "Invoice number"},
    {"name": "po", "type": "string", "case": "upper", "label": "Purchase order"},
    {"name": "dated", "type": "date", "label": "Invoice date"},
    {"name": "net", "type": "decimal", "decimal_places": 2, "min": 0},
    {"name": "tax", "type": "decimal", "decimal_places": 2, "min": 0},
    {"name": "total", "type": "decimal", "decimal_places": 2, "min": 0},
    {
        "name": TABLE,
        "type": "table",
        "min_rows": 1,
        "max_rows": 50,
        "key": "sku",
        "columns": [
            {"name": "sku", "type": "string", "case": "upper"},
            {"name": "description", "type": "string"},
            {"name": "qty", "type": "integer", "min": 1},
            {"name": "unit_price", "type": "decimal", "decimal_places": 2, "min": 0},
            {"name": "amount", "type": "decimal", "decimal_places": 2},
        ],
    },
]
RULES = [
    f"{TABLE}.qty * {TABLE}.unit_price == {TABLE}.amount",
    f"sum({TABLE}.amount) == net",
    "net + tax == total",
]
ORDERS, RECEIPTS = "purchase-orders", "receipts"
PRICE_TOLERANCE_PCT = Decimal(2)
MATCH: dict[str, Any] = {
    "orders": ORDERS,
    "order_field": "po",
    "table": TABLE,
    "line": "sku",
    "quantity": "qty",
    "price": "unit_price",
    "tolerances": {"unit_price": {"percent": str(PRICE_TOLERANCE_PCT)}, "qty": {"absolute": "0"}},
    "receipts": {"dataset": RECEIPTS, "order_column": "po"},
    "duplicates": {
        "vendor": "vendor",
        "number": "number",
        "amount": "total",
        "date": "dated",
        "days": 30,
    },
}
TAX_RATE, CENT = Decimal("0.21"), Decimal("0.01")

# What is ordered: a description and a unit price. Prices are multiples of 0.50, so 2 % and
# 4 % of one are whole cents and an invoice can sit exactly on the tolerance's edge.
CATALOG: dict[str, tuple[str, str]] = {
    "BOLT-M8": ("Hex bolts M8, box of 100", "12.50"),
    "NUT-M8": ("Hex nuts M8, box of 100", "6.00"),
    "WASHER-M8": ("Washers M8, box of 200", "4.50"),
    "GLOVES-L": ("Work gloves, size L", "3.50"),
    "TAPE-50": ("Duct tape, 50 m", "8.00"),
    "DRILL-6": ("HSS drill bit, 6 mm", "2.50"),
    "PALLET-EU": ("Euro pallet", "14.00"),
    "LABELS-A4": ("Labels A4, pack of 500", "21.00"),
}
# A line a vendor adds unasked: on no order.
SURCHARGE: dict[str, Any] = {
    "sku": "EXPRESS",
    "description": "Express delivery surcharge",
    "qty": 1,
    "unit_price": "25.00",
}

# How an invoice came out: a line outcome of validation's matching, or these two.
MATCHED, DUPLICATE = "matched", "duplicate"
PRICE_VARIANCE, QUANTITY_VARIANCE = "price_variance", "quantity_variance"
NOT_ON_ORDER, NOT_RECEIVED, ALREADY_INVOICED = "not_on_order", "not_received", "already_invoiced"
# One invoice for each outcome, one on the price tolerance's edge, two that others need
# matched first, and then more that match than do not.
VARIANCES = 6
MIN_INVOICES = 2 * VARIANCES + 1

# What the client's accounts payable does with three exceptions; the rest stay open.
RESOLUTIONS: dict[str, tuple[str, str]] = {
    PRICE_VARIANCE: ("accept", "price rise agreed with the vendor"),
    QUANTITY_VARIANCE: ("correct", "pay what was ordered; the extra goes back"),
    DUPLICATE: ("reject", "sent twice; paid once"),
}
# How long invoices may stop becoming final (or exceptions) before the demo gives up.
STALL_S = 120.0


@dataclass(frozen=True)
class Invoice:
    """One invoice of the scenario: as it is printed, so as it is keyed, and the outcome
    it was built to get."""

    truth: dict[str, Any]
    expected: str
    # What makes it worth a look, if anything.
    story: str = ""
    # Pushed once the others are final or exceptions: it needs some of them matched first.
    later: bool = False
    # The item's external id.
    item: str = ""

    @property
    def number(self) -> str:
        return str(self.truth["number"])

    @property
    def po(self) -> str:
        return str(self.truth["po"])


@dataclass(frozen=True)
class Scenario:
    orders: list[dict[str, Any]]
    receipts: list[dict[str, Any]]
    invoices: list[Invoice]

    def wave(self, later: bool) -> list[Invoice]:
        return [invoice for invoice in self.invoices if invoice.later is later]


class _Built(NamedTuple):
    """An invoice against an order, before it has a number: its lines, what the receipts
    delivered of each line, the outcome it should get and why."""

    lines: list[dict[str, Any]]
    received: dict[str, int]
    expected: str
    story: str = ""


def scenario(count: int, rng: random.Random) -> Scenario:
    """`count` (at least MIN_INVOICES) invoices, each against an order of its own but two:
    one for each outcome, one on the price tolerance's edge, the rest as ordered."""
    if count < MIN_INVOICES:
        raise ValueError(f"the AP scenario needs at least {MIN_INVOICES} invoices")
    build = _Builder(rng)
    in_full = build.against_new_order(_as_ordered)
    halved = build.against_new_order(_half)
    for kind in (_at_the_edge, _price_over, _more_than_ordered, _not_on_order, _not_received):
        build.against_new_order(kind)
    while len(build.invoices) < count - 2:
        build.against_new_order(_as_ordered)
    build.shuffle()
    build.billed_again(in_full.po)
    build.sent_again(halved.po)
    invoices = [replace(inv, item=f"scan-{n:04d}") for n, inv in enumerate(build.invoices, 1)]
    return Scenario(build.orders, build.receipts, invoices)


def _line(
    ordered: Mapping[str, Any], qty: int | None = None, price: Decimal | None = None
) -> dict[str, Any]:
    """An invoice line for an order line, at its quantity and price unless told otherwise."""
    qty = ordered["qty"] if qty is None else qty
    price = Decimal(ordered["unit_price"]) if price is None else price
    return {
        "sku": ordered["sku"],
        "description": ordered["description"],
        "qty": qty,
        "unit_price": f"{price:.2f}",
        "amount": f"{qty * price:.2f}",
    }


def totals(lines: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """An invoice's net (its lines' amounts), tax and total."""
    net = sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
    tax = (net * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
    return {"net": f"{net:.2f}", "tax": f"{tax:.2f}", "total": f"{net + tax:.2f}"}


def _all_of(order: Mapping[str, Any]) -> dict[str, int]:
    return {line["sku"]: line["qty"] for line in order["lines"]}


def _as_ordered(order: Mapping[str, Any]) -> _Built:
    return _Built([_line(line) for line in order["lines"]], _all_of(order), MATCHED)


def _half(order: Mapping[str, Any]) -> _Built:
    lines = [_line(line, qty=line["qty"] // 2) for line in order["lines"]]
    return _Built(lines, _all_of(order), MATCHED, "half of each line: a partial invoice")


def _priced_over(order: Mapping[str, Any], share: Decimal, expected: str, why: str) -> _Built:
    first, *rest = order["lines"]
    ordered = Decimal(first["unit_price"])
    price = ordered * (1 + share)
    story = f"{first['sku']} at {price:.2f}, {share:.0%} over the order's {ordered:.2f}{why}"
    lines = [_line(first, price=price), *map(_line, rest)]
    return _Built(lines, _all_of(order), expected, story)


def _at_the_edge(order: Mapping[str, Any]) -> _Built:
    return _priced_over(order, PRICE_TOLERANCE_PCT / 100, MATCHED, ": the tolerance's edge")


def _price_over(order: Mapping[str, Any]) -> _Built:
    return _priced_over(order, 2 * PRICE_TOLERANCE_PCT / 100, PRICE_VARIANCE, "")


def _more_than_ordered(order: Mapping[str, Any]) -> _Built:
    first, *rest = order["lines"]
    more = first["qty"] + 2
    story = f"{more} {first['sku']} delivered and billed, {first['qty']} ordered"
    lines = [_line(first, qty=more), *map(_line, rest)]
    return _Built(lines, {**_all_of(order), first["sku"]: more}, QUANTITY_VARIANCE, story)


def _not_on_order(order: Mapping[str, Any]) -> _Built:
    lines = [*map(_line, order["lines"]), _line(SURCHARGE)]
    story = f"adds {SURCHARGE['sku']}: {SURCHARGE['description'].lower()}"
    return _Built(lines, _all_of(order), NOT_ON_ORDER, story)


def _not_received(order: Mapping[str, Any]) -> _Built:
    first = order["lines"][0]
    received = first["qty"] // 2
    story = f"all {first['qty']} {first['sku']} billed, {received} received so far"
    lines = [_line(line) for line in order["lines"]]
    return _Built(lines, {**_all_of(order), first["sku"]: received}, NOT_RECEIVED, story)


class _Builder:
    """Orders, receipts and invoices as they are made, numbered in turn. No two invoices of
    a vendor have the same total, unless one is sent again on purpose: the same amount
    within 30 days is a duplicate."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.orders: list[dict[str, Any]] = []
        self.receipts: list[dict[str, Any]] = []
        self.invoices: list[Invoice] = []
        self._totals: set[tuple[str, str]] = set()

    def against_new_order(self, kind: Callable[[Mapping[str, Any]], _Built]) -> Invoice:
        """An order (even quantities, so that half of one is whole), its receipts, and an
        invoice against it that `kind` makes."""
        rng = self.rng
        skus = rng.sample(sorted(CATALOG), rng.randint(2, 4))
        order: dict[str, Any] = {
            "po": f"PO-{40001 + len(self.orders)}",
            "vendor": rng.choice(VENDORS),
            "lines": [
                {
                    "sku": sku,
                    "description": CATALOG[sku][0],
                    "qty": 2 * rng.randint(1, 12),
                    "unit_price": CATALOG[sku][1],
                }
                for sku in skus
            ],
        }
        built = kind(order)
        while self._taken(order["vendor"], built.lines):
            order["lines"][0]["qty"] += 2
            built = kind(order)
        self.orders.append(order)
        self._receive(order["po"], built.received)
        return self._add(self._truth(order, built.lines), built.expected, built.story)

    def shuffle(self) -> None:
        """The invoices so far in a random order, numbered in it."""
        self.rng.shuffle(self.invoices)
        self.invoices = [
            replace(invoice, truth={**invoice.truth, "number": f"INV-{10001 + n}"})
            for n, invoice in enumerate(self.invoices)
        ]

    def billed_again(self, po: str) -> Invoice:
        """An invoice billing once more a line of the order `po` an invoice billed in full."""
        first = self._against(po)
        order = next(order for order in self.orders if order["po"] == po)
        lines = [[_line(line)] for line in order["lines"]]
        again = next((one for one in lines if not self._taken(order["vendor"], one)), lines[0])
        story = f"{again[0]['sku']} of {first.po} again: {first.number} billed the order in full"
        return self._add(self._truth(order, again), ALREADY_INVOICED, story, later=True)

    def sent_again(self, po: str) -> Invoice:
        """The invoice against the order `po`, sent a second time."""
        first = self._against(po)
        story = f"{first.number} (half of {first.po}) sent a second time"
        return self._add(first.truth, DUPLICATE, story, later=True)

    def _against(self, po: str) -> Invoice:
        return next(invoice for invoice in self.invoices if invoice.po == po)

    def _taken(self, vendor: str, lines: Sequence[Mapping[str, Any]]) -> bool:
        return (vendor, totals(lines)["total"]) in self._totals

    def _truth(self, order: Mapping[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
        dated = date(2026, 11, 1) + timedelta(days=self.rng.randrange(30))
        return {
            "vendor": order["vendor"],
            "number": f"INV-{10001 + len(self.invoices)}",
            "po": order["po"],
            "dated": dated.isoformat(),
            **totals(lines),
            TABLE: lines,
        }

    def _receive(self, po: str, received: Mapping[str, int]) -> None:
        """Goods receipts for an order: one, or now and then two that add up."""
        parts = [dict(received)]
        if self.rng.random() < 0.3:
            parts = [
                {sku: qty // 2 for sku, qty in received.items()},
                {sku: qty - qty // 2 for sku, qty in received.items()},
            ]
        for part in parts:
            lines = [{"sku": sku, "qty": qty} for sku, qty in part.items() if qty]
            self.receipts.append(
                {"receipt": f"GR-{70001 + len(self.receipts)}", "po": po, "lines": lines}
            )

    def _add(
        self, truth: dict[str, Any], expected: str, story: str, later: bool = False
    ) -> Invoice:
        self._totals.add((truth["vendor"], truth["total"]))
        invoice = Invoice(truth, expected, story, later)
        self.invoices.append(invoice)
        return invoice


def outcome_of(lines: Sequence[Mapping[str, Any]], reasons: Sequence[str]) -> str:
    """What an invoice came to, from validation's match: the outcome of its first line that
    did not match, else `duplicate` when it duplicates another, else `matched`."""
    for line in lines:
        if line["outcome"] != MATCHED:
            return str(line["outcome"])
    return DUPLICATE if any(r.startswith(f"{DUPLICATE}:") for r in reasons) else MATCHED


def as_ordered(exception: Mapping[str, Any]) -> dict[str, Any]:
    """The correction accounts payable makes: each line's quantity down to what was ordered,
    and the amounts and totals to match."""
    ordered = {line["row"]: line["ordered"]["quantity"] for line in exception["lines"]}
    lines = []
    for row, line in enumerate(exception["result"][TABLE]):
        qty = int(line["qty"])
        if ordered.get(row) is not None:
            qty = min(qty, int(Decimal(ordered[row])))
        lines.append(_line(line, qty=qty))
    return {TABLE: lines, **totals(lines)}


@dataclass(frozen=True)
class Queue:
    """The job's open exceptions, and each item's external id by its id."""

    job_id: UUID
    exceptions: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)

    def named(self, text: str) -> str:
        """`text` with the item ids in it given as their external ids."""
        return re.sub(r"item ([0-9a-f-]{36})", lambda m: self.names.get(m[1], m[0]), text)


@dataclass(frozen=True)
class Resolved:
    item: str
    outcome: str
    action: str
    note: str
    # The item at intake afterwards: its status and the total its result bills.
    status: str
    total: str | None


class Payables(Simulation):
    """The scenario against a running stack, as the client and simulated contractors."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints,
        validation: str,
        *,
        on_change: Callable[[Progress], None] | None = None,
    ) -> None:
        super().__init__(http, endpoints, on_change=on_change)
        self.validation = validation

    def as_client(self, client_id: UUID) -> dict[str, str]:
        return self.endpoints.headers(Role.CLIENT, f"client-{client_id}", client_id)

    async def push(self, client_id: UUID, scenario: Scenario, keyers: int) -> UUID:
        """Upload the client's orders and receipts, create the job, and push its invoices for
        `keyers` contractors to key until each is final or an exception: first those that
        stand alone, then those that need them matched. The job's id."""
        headers = self.as_client(client_id)
        await self._dataset(ORDERS, "po", scenario.orders, headers)
        await self._dataset(RECEIPTS, "receipt", scenario.receipts, headers)
        skill = f"ap-{new_id().hex[-10:]}"  # these keyers take only this job's tasks
        job = await self._post(
            "/v1/jobs",
            {
                "work_type": "invoice",
                "fields": FIELDS,
                "rules": RULES,
                "match": MATCH,
                "qc": {"mode": "single", "review_sample_rate": "0"},
                "sla_hours": 24,
                "required_skills": [skill],
                "external_ref": f"accounts payable {skill}",
            },
            self._once(headers),
        )
        job_id = UUID(job["id"])
        crew = [await self._contractor(Keyer(1.0), skill) for _ in range(keyers)]
        progress = Progress(items=len(scenario.invoices))
        stop = asyncio.Event()
        workers = [asyncio.create_task(self._key(job_id, who, progress, stop)) for who in crew]
        try:
            pushed = 0
            for wave in (scenario.wave(later=False), scenario.wave(later=True)):
                batch = [{"external_id": inv.item, "source": inv.truth} for inv in wave]
                response = await self.send(
                    "POST", f"/v1/jobs/{job_id}/items", self._once(headers), json={"items": batch}
                )
                if response.json() != {"accepted": len(batch)}:
                    raise RuntimeError(f"items of job {job_id}: {response.text}")
                pushed += len(batch)
                await self._settled(job_id, pushed, headers, progress, workers)
            await self._post(f"/v1/jobs/{job_id}/close", {}, headers)
        finally:
            stop.set()
            await asyncio.gather(*workers)
        return job_id

    async def queue(self, client_id: UUID, job_id: UUID) -> Queue:
        """The job's open exceptions, as the client's accounts payable sees them."""
        headers = self.as_client(client_id)
        exceptions = [
            exception
            async for exception in pages(
                self.http,
                f"{self.validation}/v1/exceptions",
                headers,
                status="open",
                job_id=str(job_id),
            )
        ]
        names = {
            item["id"]: item["external_id"]
            async for item in pages(
                self.http, f"{self.endpoints.intake}/v1/jobs/{job_id}/items", headers
            )
        }
        return Queue(job_id, exceptions, names)

    async def resolve(self, client_id: UUID, queue: Queue) -> list[Resolved]:
        """Resolve one exception of each outcome RESOLUTIONS names, as the client, and wait
        until intake has the items final."""
        headers = self.as_client(client_id)
        chosen: list[tuple[dict[str, Any], str, str, str]] = []
        for outcome, (action, note) in RESOLUTIONS.items():
            exception = next(
                (e for e in queue.exceptions if outcome_of(e["lines"], e["reasons"]) == outcome),
                None,
            )
            if exception is None:
                continue
            body: dict[str, Any] = {"action": action, "note": note}
            if action == "correct":
                body["data"] = as_ordered(exception)
            url = f"{self.validation}/v1/exceptions/{exception['id']}/resolve"
            response = await self.http.post(url, json=body, headers=headers)
            if response.status_code >= 400:
                raise Refused(f"POST {url}: {response.status_code} {response.text}")
            chosen.append((exception, outcome, action, note))
        items = await self._final(queue.job_id, {e["item_id"] for e, *_ in chosen}, headers)
        resolved = []
        for exception, outcome, action, note in chosen:
            item = items[exception["item_id"]]
            total = (item["result"] or {}).get("total")
            resolved.append(
                Resolved(item["external_id"], outcome, action, note, item["status"], total)
            )
        return resolved

    async def _dataset(
        self, name: str, key: str, rows: Sequence[Mapping[str, Any]], headers: dict[str, str]
    ) -> None:
        """Upload a reference dataset as NDJSON (its rows hold their lines), replacing it."""
        body = "".join(f"{json.dumps(row)}\n" for row in rows)
        response = await self.http.put(
            f"{self.validation}/v1/reference-datasets/{name}",
            params={"key": key},
            content=body.encode(),
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
        if response.status_code >= 400:
            raise Refused(f"PUT dataset {name}: {response.status_code} {response.text}")

    async def _key(
        self, job_id: UUID, contractor_id: str, progress: Progress, stop: asyncio.Event
    ) -> None:
        """Claim the job's entry tasks and key each invoice exactly as it is, lines and all."""
        headers = self.endpoints.headers(Role.CONTRACTOR, contractor_id)
        async for tasks in self.claimed(job_id, ["entry"], headers, stop):
            for task in tasks:
                # A 409: an earlier try of this submit landed and its answer was lost.
                await self.send(
                    "POST",
                    f"/v1/tasks/{task['id']}/submit",
                    headers,
                    json={"data": task["source"]},
                    expect=(409,),
                )
                progress.keyings += 1

    async def _settled(
        self,
        job_id: UUID,
        pushed: int,
        headers: dict[str, str],
        progress: Progress,
        workers: Sequence["asyncio.Task[None]"],
    ) -> None:
        """Wait until the `pushed` items are each final or an exception."""
        settled, moved = -1, time.monotonic()
        while True:
            for worker in workers:
                if worker.done():
                    worker.result()  # a keyer who stopped early stops the run: say why
            status = await self._get(f"/v1/jobs/{job_id}", headers)
            counts = progress.counts = status["counts"]
            self.on_change(progress)
            now = counts["completed"] + counts["rejected"] + counts["exception"]
            if counts["total"] >= pushed and now >= pushed:
                return
            if now != settled:
                settled, moved = now, time.monotonic()
            elif time.monotonic() - moved > STALL_S:
                left = pushed - now
                raise RuntimeError(f"job {job_id}: {left} invoices unsettled for {STALL_S} s")
            await asyncio.sleep(0.2)

    async def _final(
        self, job_id: UUID, item_ids: set[str], headers: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        """The items `item_ids` of the job by id, once intake has each completed or rejected."""
        deadline = time.monotonic() + STALL_S
        while True:
            items = {
                item["id"]: item
                async for item in pages(
                    self.http, f"{self.endpoints.intake}/v1/jobs/{job_id}/items", headers
                )
                if item["id"] in item_ids
            }
            if all(item["status"] in ("completed", "rejected") for item in items.values()):
                return items
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id}: resolved items not final after {STALL_S} s")
            await asyncio.sleep(0.2)


async def pages(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> AsyncIterator[dict[str, Any]]:
    """Every entry of a paged list (`{data, next_cursor}`), page after page."""
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {**params, "limit": 500} | ({"cursor": cursor} if cursor else {})
        response = await http.get(url, params=query, headers=headers)
        if response.status_code >= 400:
            raise Refused(f"GET {url}: {response.status_code} {response.text}")
        page = response.json()
        for entry in page["data"]:
            yield entry
        cursor = page["next_cursor"]
        if cursor is None:
            return


def print_built(console: Console, scenario: Scenario) -> None:
    shown = [invoice for invoice in scenario.invoices if invoice.story]
    table = Table(
        title=f"{len(scenario.invoices)} invoices against {len(scenario.orders)} purchase "
        f"orders and {len(scenario.receipts)} goods receipts; built to stand out:"
    )
    for column in ("item", "invoice", "PO", "built with", "expected"):
        table.add_column(column)
    for invoice in shown:
        table.add_row(invoice.item, invoice.number, invoice.po, invoice.story, invoice.expected)
    console.print(table)
    rest = len(scenario.invoices) - len(shown)
    console.print(f"The other {rest} invoices are as ordered and received.\n")


def print_queue(console: Console, queue: Queue) -> None:
    table = Table(
        title=f"Exception queue of job {queue.job_id}: {len(queue.exceptions)} invoices "
        "wait for the client's accounts payable"
    )
    for column in ("item", "invoice", "PO", "line", "outcome", "reasons"):
        table.add_column(column)
    for exception in queue.exceptions:
        result = exception["result"]
        first = [
            queue.names.get(exception["item_id"], exception["item_id"]),
            str(result.get("number")),
            str(result.get("po")),
        ]
        for line in exception["lines"]:
            table.add_row(*first, str(line["line"]), line["outcome"], "; ".join(line["reasons"]))
            first = ["", "", ""]
        for reason in exception["reasons"]:
            if reason.startswith(f"{DUPLICATE}:"):
                table.add_row(*first, "", DUPLICATE, queue.named(reason.split(": ", 1)[1]))
            elif not reason.startswith(f"{TABLE}["):
                table.add_row(*first, "", "invoice", queue.named(reason))
        table.add_section()
    console.print(table)
    matched = len(queue.names) - len(queue.exceptions)
    console.print(f"The other {matched} invoices matched their orders and receipts: accepted.\n")


def print_resolved(console: Console, resolved: Sequence[Resolved], still_open: int) -> None:
    table = Table(title="Resolved by the client's accounts payable")
    for column in ("item", "outcome", "action", "note", "item now", "total"):
        table.add_column(column)
    for one in resolved:
        total = "-" if one.total is None else str(one.total)
        table.add_row(one.item, one.outcome, one.action, one.note, one.status, total)
    console.print(table)
    console.print(
        f"{still_open} exceptions stay open: POST /v1/exceptions/<id>/resolve on validation "
        "(accept, reject or correct) settles each.\n"
    )
