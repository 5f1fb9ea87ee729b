"""Adaptive QC on invoices with lines: a keying is worth the product over every cell of its
rows, in the ruling, in the ledger kept, and in what the job is said to deliver."""

import re
from typing import Any
from uuid import UUID

import httpx
import pytest

from bpo_common.contracts.intake import JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.models import JobAccuracy
from bpo_validation.settings import Settings

from .submissions import a_thousand_items, accuracy_said, new_item, new_job, published, submit

FIELDS: list[dict[str, Any]] = [
    {"name": "vendor", "type": "string"},
    {
        "name": "lines",
        "type": "table",
        "columns": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}],
    },
]
LINES: list[dict[str, Any]] = [{"sku": f"S-{n}", "qty": n + 1} for n in range(50)]
INVOICE = {"vendor": "ACME", "lines": LINES}


async def _invoice_job(db: SessionFactory, target: str) -> tuple[JobCreated, list[UUID]]:
    """An adaptive job of 50-line invoices, a thousand received, on a work type of its own,
    and two keyers for it."""
    job = await new_job(
        db,
        fields=FIELDS,
        work_type=f"lines-{new_id().hex[-8:]}",
        mode="adaptive",
        target_accuracy=target,
    )
    await a_thousand_items(db, job)
    return job, [new_id(), new_id()]


async def _proven(db: SessionFactory, settings: Settings, job: JobCreated, keyer: UUID) -> None:
    """The keyer right on 99 % of their cells: one wrong in each of 40 control invoices."""
    for n in range(40):
        lines = [dict(line) for line in LINES]
        column = ("sku", "qty")[n % 2]
        lines[n][column] = f"X-{n}" if column == "sku" else n + 2
        keyed = {**INVOICE, "lines": lines}
        await submit(db, settings, job, new_id(), keyed, golden=INVOICE, contractor_id=keyer)


def _item_accuracy(reason: str) -> float:
    found = re.search(r"item accuracy ([0-9.]+)%", reason)
    assert found is not None, reason
    return float(found[1]) / 100


async def test_a_fifty_line_invoice_is_keyed_twice_and_counted_as_its_cells_make_it(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job, (first, second) = await _invoice_job(validation_db, "0.95")
    for keyer in (first, second):
        await _proven(validation_db, validation_settings, job, keyer)
    item = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, item, INVOICE, contractor_id=first)
    (asked,) = await published(validation_db, item)
    assert asked.type == "bpo.validation.keying.required", asked.data
    # 101 chances of about 99 %: about 0.99^101, not 0.99^3 (a column counted once).
    assert 0.3 < _item_accuracy(asked.data["reason"]) < 0.45
    await submit(
        validation_db, validation_settings, job, item, INVOICE, expected=2, contractor_id=second
    )
    assert (await published(validation_db, item))[-1].type == "bpo.validation.item.accepted"
    body = (
        await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    ).json()
    assert (body["items"], body["keyed_twice"]) == (1, 1)
    # Wrong where both keyings erred on one of its 101 cells: about 1 - 101 x 0.01^2.
    assert body["estimate"] == pytest.approx(0.99, abs=0.004)


async def test_a_fifty_line_invoice_keyed_once_is_said_delivered_at_its_cells_accuracy(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    """A job content with a low target lets a keying of 50 lines stand alone: what the job
    delivers, shown and announced, is that keying's chance of every cell right."""
    job, (first, other) = await _invoice_job(validation_db, "0.1")
    for keyer in (first, other):
        await _proven(validation_db, validation_settings, job, keyer)
    item = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, item, INVOICE, contractor_id=first)
    (accepted,) = await published(validation_db, item)
    assert accepted.type == "bpo.validation.item.accepted", accepted.data
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    ruled = _item_accuracy(decision["reason"])
    assert 0.3 < ruled < 0.45
    body = (
        await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    ).json()
    assert (body["items"], body["single_keyed"]) == (1, 1)
    assert body["estimate"] == pytest.approx(ruled, abs=0.05)
    # Kept as a release from before rows counted reads a share (five numbers), the rows apart.
    async with validation_db() as session:
        kept = await session.get(JobAccuracy, job.job_id)
    assert kept is not None
    assert [len(kept.checked), *(len(share) for share in kept.carried.values())] == [5, 5]
    assert kept.sizes is not None
    assert kept.sizes["carried"] == {str(first): [[{"lines": 50}, 1]]}
    said = await accuracy_said(validation_db, validation_settings, job)
    assert said is not None
    assert said["estimate"] == pytest.approx(body["estimate"])
