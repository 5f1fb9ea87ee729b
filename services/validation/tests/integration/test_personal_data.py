"""Personal data in validation: values arrive sealed and are opened only to decide (double
keying, normalization and lookups work on pii fields); entries, decisions and exceptions keep
them sealed, reasons never quote them, events carry every value sealed; a manager without the
pii scope sees them masked."""

from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.auth import KeyScope, Scope
from bpo_common.crypto import is_sealed
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.rules import MASK
from bpo_devtools.testing import Tokens, outbox_events
from bpo_validation.models import Decision, Entry, MatchException
from bpo_validation.settings import Settings

from .submissions import erase, new_item, new_job, published, submit
from .test_matching import FIELDS as INVOICE
from .test_matching import MATCH, ORDERS, RECEIPTS

NAME, SSN = f"Quayle {new_id().hex[-8:]}", f"SSN-{new_id().hex[-8:].upper()}"
MISSED = f"SSN-{new_id().hex[-8:].upper()}"
FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "string", "pii": True},
    {
        "name": "ssn",
        "type": "string",
        "case": "upper",
        "pii": True,
        "lookup": {"dataset": "people", "checks": [{"field": "name", "column": "name"}]},
    },
    {"name": "total", "type": "decimal"},
]


def _clear(text: str) -> bool:
    return not any(value.lower() in text.lower() for value in (NAME, SSN, MISSED))


async def _kept(db: SessionFactory, item: UUID) -> str:
    """Everything validation keeps about the item, as text."""
    async with db() as session:
        rows: list[Any] = [*await session.scalars(select(Entry).where(Entry.item_id == item))]
        rows += await session.scalars(select(Decision).where(Decision.item_id == item))
        rows += await session.scalars(select(MatchException).where(MatchException.item_id == item))
    return " ".join(str({k: v for k, v in vars(row).items() if k[0] != "_"}) for row in rows)


async def test_pii_fields_are_double_keyed_looked_up_and_kept_sealed(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="double", review_sample_rate="0")
    client = tokens.client(job.client_id)
    uploaded = await validation.put(
        "/v1/reference-datasets/people",
        params={"key": "ssn"},
        content=f"ssn,name\n{SSN},{NAME}\n",
        headers={**client, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    agree, miss = new_item("0", sampled=False), new_item("0", sampled=False)
    # Keyed differently, the same once normalized; intake sends them sealed.
    for item, typed in (
        (agree, [{"name": f" {NAME}  ", "ssn": SSN.lower()}, {"name": NAME, "ssn": SSN}]),
        (miss, [{"name": NAME, "ssn": MISSED}] * 2),
    ):
        for data in typed:
            keyed = data | {"total": "1"}
            await submit(validation_db, validation_settings, job, item, keyed, expected=2)

    (accepted,) = await published(validation_db, agree)
    assert accepted.data["result"] == {"name": NAME, "ssn": SSN, "total": "1"}
    (review,) = await published(validation_db, miss)
    assert review.type == "bpo.validation.review.required"
    assert review.data["reason"] == "reference check: ssn is not in people", "no value quoted"
    assert [entry["data"]["ssn"] for entry in review.data["entries"]] == [MISSED, MISSED]
    for item in (agree, miss):
        raw = await outbox_events(validation_db, item_id=str(item))
        assert all(_clear(envelope.model_dump_json()) for envelope in raw)
        assert _clear(await _kept(validation_db, item))

    for reader in (client, tokens.manager(Scope.OPS, Scope.PII)):
        shown = (await validation.get(f"/v1/items/{agree}/decision", headers=reader)).json()
        assert shown["result"] == {"name": NAME, "ssn": SSN, "total": "1"}
        assert [entry["data"]["name"].strip() for entry in shown["entries"]] == [NAME, NAME]
    masked = await validation.get(f"/v1/items/{agree}/decision", headers=tokens.manager(Scope.OPS))
    body = masked.json()
    assert body["result"] == {"name": MASK, "ssn": MASK, "total": "1"}
    assert [entry["data"]["ssn"] for entry in body["entries"]] == [MASK, MASK]
    assert next(row for row in body["comparison"] if row["field"] == "ssn")["values"] == [MASK] * 2
    assert _clear(masked.text)


async def test_an_exception_keeps_the_invoices_personal_values_sealed_and_masks_them(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    fields = [*INVOICE, {"name": "payee", "type": "string", "pii": True}]
    job = await new_job(validation_db, fields=fields, match=MATCH, review_sample_rate="0")
    client = tokens.client(job.client_id)
    for name, key, body in (("purchase-orders", "po", ORDERS), ("receipts", "receipt", RECEIPTS)):
        uploaded = await validation.put(
            f"/v1/reference-datasets/{name}",
            params={"key": key},
            content=body,
            headers={**client, "Content-Type": "application/x-ndjson"},
        )
        assert uploaded.status_code == 200, uploaded.text
    lines = [
        {"sku": "A", "qty": 4, "unit_price": "5.00"},
        {"sku": "B", "qty": 2, "unit_price": "103"},
    ]
    item = new_item("0", sampled=False)
    keyed = {
        "vendor": "acme",
        "number": f"INV-{new_id().hex[-6:]}",
        "po": "po-1",
        "dated": "2026-11-30",
        "total": "50.00",
        "lines": lines,
        "payee": NAME,
    }
    await submit(validation_db, validation_settings, job, item, keyed)
    (opened,) = await outbox_events(
        validation_db, "bpo.validation.exception.opened", item_id=str(item)
    )
    assert is_sealed(opened.data["reasons"])
    assert is_sealed(opened.data["lines"])
    async with validation_db() as session:
        (exception,) = await session.scalars(
            select(MatchException).where(MatchException.item_id == item)
        )
    assert is_sealed(exception.result["payee"])
    assert exception.result["po"] == "PO-1", "what a match reads is not personal"

    masked = await validation.get(
        f"/v1/exceptions/{exception.id}", headers=tokens.manager(Scope.OPS)
    )
    assert masked.json()["result"]["payee"] == MASK
    assert _clear(masked.text)
    shown = await validation.get(f"/v1/exceptions/{exception.id}", headers=client)
    assert shown.json()["result"]["payee"] == NAME
    # Resolved by an API key that may change work but not read results: it is shown no value.
    corrected = await validation.post(
        f"/v1/exceptions/{exception.id}/resolve",
        json={"action": "correct", "data": {"payee": NAME, "lines": lines[:1]}},
        headers=tokens.api_key(job.client_id, KeyScope.JOBS_WRITE),
    )
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["data"]["payee"], corrected.json()["result"]["payee"]) == (MASK, MASK)
    assert _clear(corrected.text)
    shown = await validation.get(f"/v1/exceptions/{exception.id}", headers=client)
    assert shown.json()["data"]["payee"] == NAME
    async with validation_db() as session:
        kept = await session.get(MatchException, exception.id)
    assert kept is not None
    assert kept.data is not None
    assert is_sealed(kept.data["payee"])
    (accepted,) = [
        e for e in await published(validation_db, item) if e.type.endswith("item.accepted")
    ]
    assert accepted.data["result"]["payee"] == NAME
    assert _clear(await _kept(validation_db, item))

    # The job erased whole, its key is gone: what is left of it still reads, without values.
    await erase(validation_db, validation_settings, job, None)
    for reader in (client, tokens.manager(Scope.OPS, Scope.PII)):
        after = await validation.get(f"/v1/exceptions/{exception.id}", headers=reader)
        assert after.status_code == 200, after.text
        assert (after.json()["status"], after.json()["result"]) == ("resolved", {})
        listed = await validation.get(
            "/v1/exceptions", params={"job_id": str(job.job_id)}, headers=reader
        )
        assert [e["id"] for e in listed.json()["data"]] == [str(exception.id)], listed.text
        decision = await validation.get(f"/v1/items/{item}/decision", headers=reader)
        assert decision.status_code == 200, decision.text
        assert decision.json()["result"] is None
