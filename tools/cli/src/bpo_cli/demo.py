"""`bpo demo`: a client, its prices, a job and simulated contractors, against a running stack.

It goes through the public HTTP API only, as a client, a manager and contractors would.
"""

import asyncio
import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bpo_cli import payables
from bpo_cli.signing import local_signer
from bpo_cli.simulation import FIELDS, WORK_TYPE, Endpoints, Keyer, Outcome, Simulation
from bpo_cli.simulation import Progress as Simulated
from bpo_common.auth import Role
from bpo_common.settings import DEFAULT_PORTS, SERVICES

console = Console()

PER_ITEM, PER_FIELD = Decimal("0.40"), Decimal("0.02")
PRICE_BOOK = {
    "currency": "EUR",
    "tax_rate": "0.21",
    "rates": {WORK_TYPE: {"per_item": str(PER_ITEM), "per_field": str(PER_FIELD)}},
    "sla_credit_pct": "5",
}
# `--ap`: a resolved match exception is billed too.
PER_EXCEPTION = Decimal("1.50")
AP_PRICE_BOOK = {**PRICE_BOOK, "per_exception": str(PER_EXCEPTION)}
PIECE_RATES = {"currency": "EUR", "entry": "0.12", "review": "0.20", "adjudication": "0.25"}


class DemoMode(StrEnum):
    """The QC modes the demo's simulated crew can key."""

    SINGLE = "single"
    DOUBLE = "double"
    ADAPTIVE = "adaptive"


def _port(service: str) -> int:
    return int(os.environ.get(f"BPO_{service.upper()}_PORT", DEFAULT_PORTS[service]))


def _url(service: str) -> str:
    return f"http://127.0.0.1:{_port(service)}"


def _up(service: str) -> bool:
    try:
        return httpx.get(f"{_url(service)}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def demo(
    items: Annotated[int, typer.Option(min=1, help="items in the job")] = 500,
    keyers: Annotated[int, typer.Option(min=1, help="simulated keyers")] = 8,
    reviewers: Annotated[
        int,
        typer.Option(
            min=1, help="of them, how many review and adjudicate (qc skill) instead of keying"
        ),
    ] = 2,
    accuracy: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="share of items a keyer keys exactly right")
    ] = 0.97,
    mode: Annotated[DemoMode, typer.Option(help="QC: single, double or adaptive")] = (
        DemoMode.DOUBLE
    ),
    documents: Annotated[
        bool,
        typer.Option(
            "--documents",
            help="the client also uploads each invoice as a PDF (zipped) and the items name "
            "their PDF; contractors open a task's page image before keying it",
        ),
    ] = False,
    ap: Annotated[
        bool,
        typer.Option(
            "--ap",
            help="accounts payable: invoices with lines (--items of them) matched against "
            "purchase orders and goods receipts, some with deliberate variances; keyed once, "
            "exactly, by all the keyers; prints the exception queue and resolves some of it",
        ),
    ] = False,
) -> None:
    """Push a job through the running stack (`make run`) with simulated contractors, then show
    its results, the client's invoice and the manager's overview."""
    if ap and documents:
        raise typer.BadParameter("--ap keys invoices without documents", param_hint="--documents")
    # Each item's keyings are by different people: a double or adaptive job needs two keyers.
    entry_keyers, needed = keyers - reviewers, 1 if mode is DemoMode.SINGLE else 2
    if not ap and entry_keyers < needed:
        raise typer.BadParameter(
            f"{keyers} keyers of whom {reviewers} review leave {max(entry_keyers, 0)} to key; "
            f"a {mode.value} job needs {needed}: give --keyers {reviewers + needed} or more",
            param_hint="--keyers",
        )
    if ap and items < payables.MIN_INVOICES:
        raise typer.BadParameter(
            f"--ap needs at least {payables.MIN_INVOICES} invoices", param_hint="--items"
        )
    missing = [service for service in SERVICES if not _up(service)]
    if missing:
        console.print(
            f"[red]not running: {', '.join(missing)}.[/red] Start the stack with `make run` in "
            "another terminal, then run the demo again."
        )
        raise typer.Exit(1)
    endpoints = Endpoints(intake=_url("intake"), signer=local_signer())
    crew = [Keyer(accuracy)] * entry_keyers + [Keyer(accuracy, qc=True)] * reviewers
    try:
        if ap:
            asyncio.run(_ap_demo(endpoints, items, keyers))
        else:
            asyncio.run(_demo(endpoints, items, crew, mode.value, documents))
    except NotCaughtUp as exc:
        console.print(f"[red]{exc}[/red]: is every service's worker running?")
        raise typer.Exit(1) from exc


async def _demo(
    endpoints: Endpoints, items: int, crew: list[Keyer], mode: str, documents: bool
) -> None:
    manager = endpoints.headers(Role.MANAGER, "demo")
    started = datetime.now(UTC)
    with _bars() as bars:
        completed = bars.add_task("items final", total=items, note="")
        review = bars.add_task("items in review", total=items, note="")
        keyed = bars.add_task("keyings submitted", total=None, note="")

        def show(progress: Simulated) -> None:
            bars.update(completed, completed=progress.done, note=_rate(progress))
            bars.update(review, completed=progress.counts.get("in_review", 0))
            right = progress.keyings_right / progress.keyings if progress.keyings else 0.0
            bars.update(keyed, completed=progress.keyings + progress.reviews,
                        note=f"keyings right so far {right:.1%}")  # fmt: skip

        async with httpx.AsyncClient(timeout=60) as http:
            simulation = Simulation(http, endpoints, on_change=show)
            client_id = await simulation.client(f"Demo Client {started:%Y-%m-%d %H:%M:%S}")
            await set_prices(http, client_id, manager)
            outcome = await simulation.run(
                client_id, items=items, keyers=crew, mode=mode, documents=documents
            )
    async with httpx.AsyncClient(timeout=60) as http:
        with console.status("waiting for billing and reporting to catch up ..."):
            overview, invoice = await caught_up(http, outcome, started, manager)
    _print_results(outcome)
    _print_invoice(invoice)
    _print_overview(overview)
    _print_addresses()


async def _ap_demo(endpoints: Endpoints, invoices: int, keyers: int) -> None:
    """`--ap`: invoices matched against the client's orders and receipts, the exception queue,
    three exceptions resolved by the client, and the invoice with their charges."""
    manager = endpoints.headers(Role.MANAGER, "demo")
    started = datetime.now(UTC)
    scenario = payables.scenario(invoices, random.Random(7))
    payables.print_built(console, scenario)
    async with httpx.AsyncClient(timeout=60) as http:
        with _bars() as bars:
            settled = bars.add_task("invoices settled", total=invoices, note="")

            def show(progress: Simulated) -> None:
                waiting = progress.counts.get("exception", 0)
                bars.update(settled, completed=progress.done + waiting,
                            note=f"{waiting} exceptions so far")  # fmt: skip

            ap = payables.Payables(http, endpoints, _url("validation"), on_change=show)
            client_id = await ap.client(f"Demo AP Client {started:%Y-%m-%d %H:%M:%S}")
            await set_prices(http, client_id, manager, AP_PRICE_BOOK)
            job_id = await ap.push(client_id, scenario, keyers)
        queue = await ap.queue(client_id, job_id)
        payables.print_queue(console, queue)
        resolved = await ap.resolve(client_id, queue)
        payables.print_resolved(console, resolved, len(queue.exceptions) - len(resolved))
        completed = invoices - len(queue.exceptions)
        completed += sum(one.status == "completed" for one in resolved)
        with console.status("waiting for billing to catch up ..."):
            await _billed(http, client_id, completed, len(resolved), manager)
            invoice = await _draft_invoice(http, client_id, manager)
    _print_invoice(invoice)
    _print_addresses()


def _bars() -> Progress:
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _print_addresses() -> None:
    console.print(
        f"\nDashboard: {_url('reporting')}/dashboard "
        "(sign in with the token that `.venv/bin/bpo token --role manager` prints)\n"
        f"Workbench: {_url('intake')}/work "
        "(a contractor's token: `.venv/bin/bpo token --role contractor --sub <contractor id>`)"
    )


def _rate(progress: Simulated) -> str:
    elapsed = max(progress.elapsed(), 1e-9)
    return f"{progress.done / elapsed:,.1f} items/s"


async def set_prices(
    http: httpx.AsyncClient,
    client_id: UUID,
    headers: dict[str, str],
    book: dict[str, Any] = PRICE_BOOK,
) -> None:
    """The demo's price book (or `book`) for the client and piece rates for its work type."""
    for url, body in (
        (f"{_url('billing')}/v1/price-books/{client_id}", book),
        (f"{_url('billing')}/v1/piece-rates/{WORK_TYPE}", PIECE_RATES),
    ):
        response = await http.put(url, json=body, headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"PUT {url}: {response.status_code} {response.text}")


async def caught_up(
    http: httpx.AsyncClient, outcome: Outcome, started: datetime, headers: dict[str, str]
) -> tuple[Any, Any]:
    """The overview of the job's client and its draft invoice, once reporting has every item
    final and billing every billable item priced."""
    overview = await _overview(http, outcome, started, headers)
    return overview, await _invoice(http, outcome, headers)


class NotCaughtUp(Exception):
    """Billing or reporting did not show the job's work within the wait."""


async def _eventually(fetch: Any, ready: Any, what: str, seconds: float = 120) -> Any:
    """The first answer of `fetch` that `ready` accepts, asking again for up to `seconds`;
    NotCaughtUp, naming `what`, after that."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await fetch()
        if ready(answer):
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise NotCaughtUp(f"{what} did not show the job's work within {seconds:g} s")
        await asyncio.sleep(0.5)


async def _invoice(http: httpx.AsyncClient, outcome: Outcome, headers: dict[str, str]) -> Any:
    """The client's draft invoice for this month, once billing has priced every billable item
    (control items are not billed): a draft takes the usage priced so far."""
    expected = _revenue(outcome)

    async def revenue() -> Decimal:
        response = await http.get(
            f"{_url('billing')}/v1/margin", params={"client_id": str(outcome.client_id)},
            headers=headers,
        )  # fmt: skip
        clients = response.json().get("clients", [])
        return Decimal(clients[0]["revenue"]) if clients else Decimal(0)

    await _eventually(revenue, lambda amount: amount >= expected, "billing's margin")
    return await _draft_invoice(http, outcome.client_id, headers)


async def _billed(
    http: httpx.AsyncClient, client_id: UUID, items: int, exceptions: int, headers: dict[str, str]
) -> None:
    """Wait until billing has priced a usage line for each of `items` completed items and
    `exceptions` exceptions the client resolved."""

    async def usage() -> Counter[str]:
        url = f"{_url('billing')}/v1/usage"
        lines = payables.pages(http, url, headers, client_id=str(client_id))
        return Counter([line["kind"] async for line in lines if line["priced"]])

    await _eventually(
        usage,
        lambda kinds: kinds["item"] >= items and kinds["exception"] >= exceptions,
        "billing's usage",
    )


async def _draft_invoice(http: httpx.AsyncClient, client_id: UUID, headers: dict[str, str]) -> Any:
    """The client's draft invoice for this month so far."""
    today = datetime.now(UTC).date()
    response = await http.post(
        f"{_url('billing')}/v1/invoices",
        json={
            "client_id": str(client_id),
            "period_start": today.replace(day=1).isoformat(),
            "period_end": today.isoformat(),
        },
        headers=headers,
    )
    if response.status_code >= 400:
        raise RuntimeError(f"POST /v1/invoices: {response.status_code} {response.text}")
    return response.json()


def _revenue(outcome: Outcome) -> Decimal:
    """What the job's billable items (not the control items) earn at the demo's prices."""
    return (outcome.items - outcome.golden) * (PER_ITEM + PER_FIELD * len(FIELDS))


async def _overview(
    http: httpx.AsyncClient, outcome: Outcome, since: datetime, headers: dict[str, str]
) -> Any:
    """The manager's overview of this client, once reporting has seen every item final and
    every billable item priced (usage reaches reporting through billing, after the item)."""

    async def fetch() -> Any:
        response = await http.get(
            f"{_url('reporting')}/v1/reports/overview",
            params={
                "from": (since - timedelta(hours=1)).isoformat(),
                "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "client_id": str(outcome.client_id),
            },
            headers=headers,
        )
        return response.json()

    def caught_up(body: dict[str, Any]) -> bool:
        final = body.get("items_completed", 0) + body.get("items_rejected", 0)
        revenue = body.get("revenue")
        return bool(
            final >= outcome.items
            and revenue is not None
            and Decimal(str(revenue)) >= _revenue(outcome)
        )

    return await _eventually(fetch, caught_up, "reporting's overview")


def _print_results(outcome: Outcome) -> None:
    table = Table(title=f"Job {outcome.job_id} ({outcome.mode} keying)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    p50, p99 = outcome.latency(0.5), outcome.latency(0.99)
    for name, value in (
        ("items", f"{outcome.items:,}"),
        ("items exactly right (of those not control items)", f"{outcome.item_accuracy:.2%}"),
        ("fields right", f"{outcome.field_accuracy:.3%}"),
        ("keyings per item", f"{outcome.keyings_per_item:.2f}"),
        ("reviews and adjudications", f"{outcome.reviews:,}"),
        ("seconds from push to the last item final", f"{outcome.seconds:,.1f}"),
        ("items per second", f"{outcome.items / outcome.seconds:,.1f}"),
        ("last submit to item completed, p50 / p99",
         f"{p50 or 0:.2f} s / {p99 or 0:.2f} s"),
    ):  # fmt: skip
        table.add_row(name, value)
    if outcome.documents:
        table.add_row("documents uploaded (an invoice PDF an item)", f"{outcome.documents:,}")
        table.add_row("page images the contractors opened", f"{outcome.pages_viewed:,}")
    console.print(table)


def _print_invoice(invoice: dict[str, Any]) -> None:
    table = Table(title=f"Draft invoice {invoice['id']} ({invoice['currency']})")
    for column in ("line", "quantity", "unit price", "amount"):
        table.add_column(column, justify="left" if column == "line" else "right")
    for line in invoice["lines"]:
        table.add_row(line["description"], str(line["quantity"]), line["unit_price"],
                      line["amount"])  # fmt: skip
    table.add_section()
    table.add_row("subtotal", "", "", invoice["subtotal"])
    table.add_row(f"tax ({invoice['tax_rate']})", "", "", invoice["tax"])
    table.add_row("total", "", "", invoice["total"])
    console.print(table)


def _print_overview(overview: dict[str, Any]) -> None:
    table = Table(title="Overview (reporting)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in overview.items():
        if not name.startswith("period"):
            table.add_row(name, "-" if value is None else str(value))
    console.print(table)
