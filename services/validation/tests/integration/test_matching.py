"""Invoices against purchase orders and goods receipts: a matching invoice is accepted, a
mismatch opens an exception the client's accounts payable resolves, what is invoiced is
remembered for the next invoice, and duplicates are caught."""

import random
import string
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DataErased, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem
from bpo_validation.models import InvoicedLine
from bpo_validation.service import erasure
from bpo_validation.settings import Settings

from .submissions import events, job_keys, new_item, new_job, published, scored, submit

FIELDS: list[dict[str, Any]] = [
    {"name": "vendor", "type": "string", "case": "upper"},
    {"name": "number", "type": "string"},
    {"name": "po", "type": "string", "case": "upper"},
    {"name": "dated", "type": "date"},
    {"name": "total", "type": "decimal", "decimal_places": 2},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "sku", "type": "string", "case": "upper"},
            {"name": "qty", "type": "integer"},
            {"name": "unit_price", "type": "decimal", "decimal_places": 2},
        ],
    },
]
MATCH: dict[str, Any] = {
    "orders": "purchase-orders",
    "order_field": "po",
    "table": "lines",
    "line": "sku",
    "quantity": "qty",
    "price": "unit_price",
    "tolerances": {"unit_price": {"percent": "2"}},
    "receipts": {"dataset": "receipts", "order_column": "po"},
    "duplicates": {"vendor": "vendor", "number": "number", "amount": "total", "date": "dated"},
}
ORDERS = (
    '{"po": "PO-1", "lines": [{"sku": "A", "qty": 10, "unit_price": "5.00"},'
    ' {"sku": "B", "qty": 2, "unit_price": "100.00"}]}\n'
    '{"po": "STRASSE-9", "lines": [{"sku": "A", "qty": 1, "unit_price": "5.00"}]}\n'
)
# The order's number as people write it: another case, a tab, a no-break space, ß for SS.
RECEIPTS = (
    '{"receipt": "GR-1", "po": "po-1\\t",'
    ' "lines": [{"sku": "A", "qty": 6}, {"sku": "B", "qty": 1}]}\n'
    '{"receipt": "GR-2", "po": "\\u00a0PO-1", "lines": [{"sku": "A", "qty": 4}]}\n'
    '{"receipt": "GR-3", "po": "Straße-9", "lines": [{"sku": "A", "qty": 1}]}\n'
)
OPENED = "bpo.validation.exception.opened"


def _invoice(number: str, lines: list[dict[str, Any]], *, total: str = "50.00") -> dict[str, Any]:
    head = {"vendor": "acme", "number": number, "po": "po-1", "dated": "2026-11-30"}
    return head | {"total": total, "lines": lines}


async def po_job(db: SessionFactory, validation: httpx.AsyncClient, tokens: Tokens) -> JobCreated:
    job = await new_job(db, fields=FIELDS, match=MATCH, review_sample_rate="0")
    for name, key, body in (("purchase-orders", "po", ORDERS), ("receipts", "receipt", RECEIPTS)):
        uploaded = await validation.put(
            f"/v1/reference-datasets/{name}",
            params={"key": key},
            content=body,
            headers={**tokens.client(job.client_id), "Content-Type": "application/x-ndjson"},
        )
        assert uploaded.status_code == 200, uploaded.text
    return job


async def _keyed(
    db: SessionFactory, settings: Settings, job: JobCreated, data: dict[str, Any]
) -> UUID:
    item = new_item("0", sampled=False)
    await submit(db, settings, job, item, data)
    return item


async def _billed(db: SessionFactory, item: UUID) -> list[InvoicedLine]:
    async with db() as session:
        return list(await session.scalars(select(InvoicedLine).where(InvoicedLine.item_id == item)))


async def _exception_of(db: SessionFactory, item: UUID) -> dict[str, Any]:
    last = (await published(db, item))[-1]
    assert last.type == OPENED, last
    return last.data


async def test_an_invoice_that_matches_its_order_and_receipts_is_accepted(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    # 10 of A at 5.10: within 2 % of 5.00, and received over two receipts (6 + 4).
    lines = [{"sku": "a", "qty": 10, "unit_price": "5.10"}]
    item = await _keyed(validation_db, validation_settings, job, _invoice("INV-1", lines))
    last = (await published(validation_db, item))[-1]
    assert last.type == "bpo.validation.item.accepted"
    assert last.data["result"]["lines"] == [{"sku": "A", "qty": 10, "unit_price": "5.10"}]
    shown = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (shown["decision"], shown["reason"]) == (
        "accepted",
        "single keying, valid; matches order: PO-1",
    )
    lines = [{"sku": "A", "qty": 1, "unit_price": "5.00"}]
    received_as_strasse = {**_invoice("INV-9", lines, total="5.00"), "po": "STRASSE-9"}
    item = await _keyed(validation_db, validation_settings, job, received_as_strasse)
    last = (await published(validation_db, item))[-1]
    assert last.type == "bpo.validation.item.accepted", last.data


async def test_a_mismatch_is_an_exception_the_client_accepts(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    lines = [
        {"sku": "A", "qty": 4, "unit_price": "5.00"},
        {"sku": "B", "qty": 2, "unit_price": "103"},
    ]
    item = await _keyed(validation_db, validation_settings, job, _invoice("INV-2", lines))
    opened = await _exception_of(validation_db, item)
    assert opened["reasons"] == [
        "lines[1]: sku B: 2 invoiced, 1 received",
        "lines[1]: sku B: unit_price 103.00, ordered at 100.00",
    ]
    assert [(line["row"], line["outcome"]) for line in opened["lines"]] == [
        (0, "matched"),
        (1, "not_received"),
    ]
    assert opened["lines"][1] == {
        "row": 1,
        "line": "B",
        "outcome": "not_received",
        "reasons": ["sku B: 2 invoiced, 1 received", "sku B: unit_price 103.00, ordered at 100.00"],
        "invoiced": {"quantity": "2", "price": "103.00"},
        "ordered": {"quantity": "2", "price": "100.00"},
        "received": "1",
    }
    client = tokens.client(job.client_id)
    listed = (await validation.get("/v1/exceptions?status=open", headers=client)).json()
    assert [(e["id"], e["item_id"], e["status"], e["outcome"]) for e in listed["data"]] == [
        (opened["exception_id"], str(item), "open", "mismatch")
    ]
    assert opened["outcome"] == "mismatch"
    shown = (await validation.get(f"/v1/items/{item}/decision", headers=client)).json()
    assert shown["decision"] == "exception"
    assert shown["reason"].startswith("does not match its purchase order: lines[1]: sku B")

    url, accept = f"/v1/exceptions/{opened['exception_id']}/resolve", {"action": "accept"}
    resolved = await validation.post(url, json=accept | {"note": "price agreed"}, headers=client)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["action"], body["note"]) == ("resolved", "accept", "price agreed")
    types = [e.type for e in await events(validation_db, item)]
    assert types[-3:] == [
        "bpo.validation.item.accepted",
        "bpo.validation.contractor.scored",
        "bpo.validation.exception.resolved",
    ]
    after = await events(validation_db, item)
    assert after[-3].data["result"]["lines"][1] == {"sku": "B", "qty": 2, "unit_price": "103.00"}
    assert (after[-1].data["action"], after[-1].data["by_client"]) == ("accept", True)
    history = (await validation.get(f"/v1/items/{item}/decision", headers=client)).json()
    assert [d["outcome"] for d in history["history"]] == ["exception", "accepted"]
    assert history["reason"] == (
        "match exception accepted by the client's accounts payable: price agreed"
    )
    # A retry whose answer was lost is answered as the first was, and does nothing more.
    retried = await validation.post(url, json=accept | {"note": "price agreed"}, headers=client)
    assert (retried.status_code, retried.json()) == (200, body)
    assert await events(validation_db, item) == after
    for other in ({"action": "reject"}, accept, accept | {"note": "agreed"}):
        again = await validation.post(url, json=other, headers=client)
        assert "resolved already" in assert_problem(again, 409)["detail"]
    manager = await validation.post(url, json=accept | {"note": "price agreed"},
                                    headers=tokens.manager())  # fmt: skip
    assert "resolved already" in assert_problem(manager, 409)["detail"], "another caller's"
    still_open = (await validation.get("/v1/exceptions?status=open", headers=client)).json()
    assert still_open["data"] == []


@pytest.mark.parametrize("whole_job", [False, True])
async def test_an_erased_items_exception_is_closed_and_can_no_longer_be_resolved(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    whole_job: bool,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    lines = [{"sku": "B", "qty": 2, "unit_price": "103"}]
    item = await _keyed(validation_db, validation_settings, job, _invoice("INV-8", lines))
    opened = await _exception_of(validation_db, item)
    assert await _billed(validation_db, item), "an open exception's invoice counts as billed"
    erased = DataErased(
        erasure_id=new_id(), job_id=job.job_id, client_id=job.client_id,
        item_ids=None if whole_job else [item], requested_at=utcnow(),
    )  # fmt: skip
    async with validation_db() as session, session.begin():
        await erasure.erase(session, erased, keys=job_keys(validation_settings).keys)

    client, url = tokens.client(job.client_id), f"/v1/exceptions/{opened['exception_id']}"
    shown = (await validation.get(url, headers=client)).json()
    assert (shown["status"], shown["action"], shown["resolved_by"]) == (
        "resolved",
        "reject",
        "erasure",
    )
    accepted = await validation.post(f"{url}/resolve", json={"action": "accept"}, headers=client)
    assert "its item's data was erased" in assert_problem(accepted, 409)["detail"]
    assert (await published(validation_db, item))[-1].type == OPENED, "no decision is announced"
    # Its keying, right, is paid as an invoice rejected at the queue is.
    assert [scores[1] for scores in (await scored(validation_db, item)).values()] == ["accepted"]
    assert await _billed(validation_db, item) == [], "later invoices of the order are free of it"


async def test_another_clients_exception_is_not_found(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    over = [{"sku": "A", "qty": 11, "unit_price": "5.00"}]
    item = await _keyed(validation_db, validation_settings, job, _invoice("INV-3", over))
    exception_id = (await _exception_of(validation_db, item))["exception_id"]
    other = tokens.client(new_id())
    assert_problem(await validation.get(f"/v1/exceptions/{exception_id}", headers=other), 404)
    refused = await validation.post(
        f"/v1/exceptions/{exception_id}/resolve", json={"action": "accept"}, headers=other
    )
    assert_problem(refused, 404)
    assert (await validation.get("/v1/exceptions", headers=other)).json()["data"] == []
    mine = await validation.get(f"/v1/exceptions/{exception_id}", headers=tokens.manager())
    assert mine.json()["status"] == "open"


async def test_a_rejected_invoice_bills_nothing_and_a_correction_is_checked_whole(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    client = tokens.client(job.client_id)
    over = [{"sku": "A", "qty": 12, "unit_price": "5.00"}]
    first = await _keyed(validation_db, validation_settings, job, _invoice("INV-4", over))
    opened = await _exception_of(validation_db, first)
    assert opened["reasons"] == [
        "lines[0]: sku A: 12 invoiced, 10 received",
        "lines[0]: sku A: 12 invoiced, 10 ordered",
    ]
    rejected = await validation.post(
        f"/v1/exceptions/{opened['exception_id']}/resolve",
        json={"action": "reject", "data": {"total": "1"}},
        headers=client,
    )
    assert assert_problem(rejected, 422)["errors"] == [
        {"field": "data", "message": "leave it out to reject, or use correct"}
    ]
    rejected = await validation.post(
        f"/v1/exceptions/{opened['exception_id']}/resolve",
        json={"action": "reject"},
        headers=client,
    )
    assert rejected.json()["action"] == "reject"
    last = (await published(validation_db, first))[-2]
    assert last.type == "bpo.validation.item.rejected"
    # The invoice is refused for what it says: its keying, right, is paid as accepted work.
    assert [scores[1] for scores in (await scored(validation_db, first)).values()] == ["accepted"]

    # The rejected invoice billed nothing: ten of A may still be invoiced, in two invoices.
    second = await _keyed(
        validation_db,
        validation_settings,
        job,
        _invoice("INV-5", [{"sku": "A", "qty": 6, "unit_price": "5.00"}], total="30.00"),
    )
    assert (await published(validation_db, second))[-1].type == "bpo.validation.item.accepted"
    third = await _keyed(
        validation_db,
        validation_settings,
        job,
        _invoice("INV-6", [{"sku": "A", "qty": 6, "unit_price": "5.00"}], total="30.00"),
    )
    opened = await _exception_of(validation_db, third)
    assert opened["lines"][0]["outcome"] == "already_invoiced"
    assert opened["reasons"][0] == (
        "lines[0]: sku A: 6 of 10 ordered were invoiced before; with this invoice 12"
    )

    url = f"/v1/exceptions/{opened['exception_id']}/resolve"
    bad = await validation.post(
        url,
        json={"action": "correct", "data": {"lines": [{"sku": "A", "qty": "four"}]}},
        headers=client,
    )
    assert assert_problem(bad, 422)["errors"] == [
        {"field": "data.lines[0].qty", "message": "not a number"},
        {"field": "data.lines[0].unit_price", "message": "required"},
    ]
    missing = await validation.post(url, json={"action": "correct"}, headers=client)
    assert assert_problem(missing, 422)["errors"][0]["field"] == "data"
    assert (
        await validation.get(f"/v1/exceptions/{opened['exception_id']}", headers=client)
    ).json()["status"] == "open"
    corrected = await validation.post(
        url,
        json={"action": "correct", "data": {"lines": [{"sku": "A", "qty": 4, "unit_price": "5"}]}},
        headers=tokens.manager(),
    )
    assert (corrected.json()["action"], corrected.json()["data"]) == (
        "correct",
        {"lines": [{"sku": "A", "qty": 4, "unit_price": "5"}]},
    )
    accepted, resolved = [e for e in await events(validation_db, third)][-3::2]
    assert accepted.data["result"]["lines"] == [{"sku": "A", "qty": 4, "unit_price": "5.00"}]
    assert resolved.data["by_client"] is False
    # The correction bills 4: with the 6 before, the order line is invoiced in full.
    fourth = await _keyed(
        validation_db,
        validation_settings,
        job,
        _invoice("INV-7", [{"sku": "A", "qty": 1, "unit_price": "5.00"}], total="5.00"),
    )
    assert (await _exception_of(validation_db, fourth))["lines"][0]["outcome"] == "already_invoiced"


@pytest.mark.parametrize(
    ("number", "total", "dated", "why"),
    [
        ("inv-8 ", "99.00", "2026-01-01", "has the same vendor and invoice number"),
        ("INV-9", "5.00", "2026-12-30", "has the same vendor and amount, dated 2026-11-30"),
    ],
)
async def test_a_duplicate_invoice_is_an_exception(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    number: str,
    total: str,
    dated: str,
    why: str,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    line = [{"sku": "A", "qty": 1, "unit_price": "5.00"}]
    first = await _keyed(
        validation_db, validation_settings, job, _invoice("INV-8", line, total="5.00")
    )
    assert (await published(validation_db, first))[-1].type == "bpo.validation.item.accepted"
    again = {**_invoice(number, line, total=total), "dated": dated}
    second = await _keyed(validation_db, validation_settings, job, again)
    duplicate = await _exception_of(validation_db, second)
    assert (duplicate["outcome"], duplicate["reasons"]) == (
        "duplicate",
        [f"duplicate: item {first} {why}"],
    )


async def test_a_vendor_longer_than_an_index_entry_holds_is_remembered_and_found(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    # 3,000 characters that do not compress: an index entry of the vendor itself would not fit.
    vendor = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=3000))
    line = [{"sku": "A", "qty": 1, "unit_price": "5.00"}]
    keyed = {**_invoice("INV-L", line, total="5.00"), "vendor": vendor}
    first = await _keyed(validation_db, validation_settings, job, keyed)
    assert (await published(validation_db, first))[-1].type == "bpo.validation.item.accepted"
    second = await _keyed(validation_db, validation_settings, job, keyed)
    duplicate = await _exception_of(validation_db, second)
    assert duplicate["reasons"] == [
        f"duplicate: item {first} has the same vendor and invoice number"
    ]
