"""`bpo demo`, the README's tour, against the four services: it runs to the end and what it
prints adds up (perfect keyers, so every figure is known in advance)."""

import asyncio
import os
import re
import sys
from uuid import UUID

import httpx
import pytest

from bpo_devtools.servers import Services
from bpo_devtools.testing import TestStack, Tokens


async def _demo(services: Services, stack: TestStack, *options: str) -> tuple[str, set[str]]:
    """Run `bpo demo` with `options` (perfect keyers) until it ends (killed after 240 s); its
    output, and its lines with the tables' borders and runs of spaces taken out."""
    env = {
        **os.environ,
        "BPO_JWT_PRIVATE_KEY_FILE": str(stack.private_key),
        "COLUMNS": "200",
        **{f"BPO_{service.upper()}_PORT": str(port) for service, port in services.ports.items()},
    }
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bpo_cli", "demo", "--accuracy", "1", *options,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    reading = asyncio.ensure_future(demo.communicate())
    try:
        await asyncio.wait_for(asyncio.shield(reading), timeout=240)
    except TimeoutError:
        demo.kill()  # its output so far is still read
        pytest.fail(f"the demo did not end in 240 s:\n{(await reading)[0].decode()}")
    text = (await reading)[0].decode()
    assert demo.returncode == 0, text
    return text, {" ".join(line.replace("│", " ").split()) for line in text.splitlines()}


async def test_the_demo_keys_a_job_and_shows_its_results_invoice_and_overview(
    services: Services, stack: TestStack
) -> None:
    text, lines = await _demo(
        services, stack, "--items", "40", "--keyers", "4", "--reviewers", "1", "--mode", "double"
    )
    # 40 items, 2 of them control items; double keying by keyers who never slip.
    assert "items exactly right (of those not control items) 100.00%" in lines, text
    assert "keyings per item 2.00" in lines, text
    # 38 billable items at 0.40 + 5 fields at 0.02 = 0.50 each; 21% tax.
    assert "subtotal 19.00" in lines, text
    assert "tax (0.21) 3.99" in lines, text
    assert "total 22.99" in lines, text
    assert "items_received 40" in lines, text
    assert "items_completed 40" in lines, text
    assert "revenue 19.00" in lines or "revenue 19.0" in lines, text
    assert f"Dashboard: http://127.0.0.1:{services.ports['reporting']}/dashboard" in text, text
    assert "documents uploaded" not in text, text


async def test_the_demo_with_documents_uploads_an_invoice_pdf_per_item_and_keys_from_them(
    services: Services, stack: TestStack, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    text, lines = await _demo(
        services, stack,
        "--documents", "--items", "12", "--keyers", "3", "--reviewers", "1", "--mode", "double",
    )  # fmt: skip
    assert "items exactly right (of those not control items) 100.00%" in lines, text
    assert "documents uploaded (an invoice PDF an item) 12" in lines, text
    # Each item keyed twice, and each keying opened its item's page image first.
    assert "page images the contractors opened 24" in lines, text
    assert "items_completed 12" in lines, text
    job = re.search(r"Job ([0-9a-f-]{36}) \(double keying\)", text)
    assert job is not None, text
    intake = services.url("intake")
    response = await http.get(
        f"{intake}/v1/jobs/{UUID(job[1])}/items", params={"limit": 100}, headers=tokens.manager()
    )
    assert response.status_code == 200, response.text
    items = response.json()["data"]
    assert len(items) == 12
    for item in items:
        assert item["status"] == "completed", item
        (named,) = item["documents"]
        assert named["filename"] == f"{item['external_id']}.pdf"
        document = await http.get(f"{intake}/v1/documents/{named['id']}", headers=tokens.manager())
        assert document.status_code == 200, document.text
        assert document.json()["filename"] == named["filename"]
        assert document.json()["media_type"] == "application/pdf"
        assert document.json()["rendered_at"] is not None
        (page,) = document.json()["pages"]
        image = await http.get(f"{intake}{page['image_url']}")
        assert image.status_code == 200, image.text
        assert image.headers["content-type"] == "image/webp"


def _rows(text: str, title: str, until: str) -> list[list[str]]:
    """The cells of each row of the table titled `title` (up to the text `until`)."""
    section = text[text.index(title) : text.index(until)]
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in section.splitlines()
        if line.startswith("│")
    ]


async def test_the_ap_demo_queues_each_deliberate_variance_and_bills_the_resolved_ones(
    services: Services, stack: TestStack, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    text, lines = await _demo(services, stack, "--ap", "--items", "16", "--keyers", "3")

    built = {row[0]: row[-1] for row in _rows(text, "built to stand out", "Exception queue")}
    deliberate = {item for item, outcome in built.items() if outcome != "matched"}
    assert sorted(built[item] for item in deliberate) == [
        "already_invoiced", "duplicate", "not_on_order", "not_received", "price_variance",
        "quantity_variance",
    ], text  # fmt: skip
    edge = [row for row in lines if "the tolerance's edge" in row]
    assert len(edge) == 1, text
    # The queue: one block of rows per invoice (the item named on its first row), naming
    # the outcome it was built for; nothing else is in it, the tolerance's edge neither.
    queued: dict[str, set[str]] = {}
    for row in _rows(text, "Exception queue", "Resolved by"):
        if row[0]:
            item = row[0]
        queued.setdefault(item, set()).add(row[4])
    assert set(queued) == deliberate, text
    for item in deliberate:
        assert built[item] in queued[item], (item, text)
    assert edge[0].split()[0] not in queued

    resolved = {row[1]: row for row in _rows(text, "Resolved by", "open: POST")}
    assert {outcome: (row[2], row[4]) for outcome, row in resolved.items()} == {
        "price_variance": ("accept", "completed"),
        "quantity_variance": ("correct", "completed"),
        "duplicate": ("reject", "rejected"),
    }, text
    assert "3 exceptions stay open" in text, text

    # 12 invoices billed at 0.40 + 8 fields at 0.02; 3 exceptions resolved at 1.50.
    def printed(pattern: str) -> bool:
        return any(re.search(pattern, row) for row in lines)

    assert printed(r"invoice items, job .* 12 0\.56\d* 6\.72$"), text
    assert printed(r"Match exceptions resolved, job .* 3 1\.50* 4\.50$"), text

    job = re.search(r"Exception queue of job ([0-9a-f-]{36})", text)
    assert job is not None, text
    response = await http.get(
        f"{services.url('intake')}/v1/jobs/{UUID(job[1])}/items",
        params={"limit": 100},
        headers=tokens.manager(),
    )
    statuses = {item["external_id"]: item["status"] for item in response.json()["data"]}
    assert len(statuses) == 16
    resolved_items = {row[0]: row[4] for row in resolved.values()}
    for item, status in statuses.items():
        if item in resolved_items:
            assert status == resolved_items[item], (item, status)
        elif item in deliberate:
            assert status == "exception", (item, status)
        else:
            assert status == "completed", (item, status)
