"""A match exception resolved while its item's erasure runs: the erasure waits for the
resolution and then erases its decision too, so no value of the invoice is left; a resolution
sent while the erasure runs waits for it and is refused."""

import asyncio
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.auth import Principal, Role
from bpo_common.clock import utcnow
from bpo_common.contracts import ExceptionAction
from bpo_common.contracts.intake import DataErased, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, outbox_events
from bpo_validation.models import Decision
from bpo_validation.schemas import ExceptionResolve
from bpo_validation.service import erasure, exceptions
from bpo_validation.settings import Settings

from .submissions import erase, job_keys, new_item, submit
from .test_matching import po_job

VENDOR = "ERASED-VENDOR"


async def _opened(db: SessionFactory, settings: Settings, job: JobCreated) -> tuple[UUID, UUID]:
    """An item whose invoice does not match its order, and the exception it opened."""
    item = new_item("0", sampled=False)
    keyed: dict[str, Any] = {
        "vendor": VENDOR,
        "number": f"INV-{item.hex[-6:]}",
        "po": "po-1",
        "dated": "2026-11-30",
        "total": "206.00",
        "lines": [{"sku": "B", "qty": 2, "unit_price": "103"}],
    }
    await submit(db, settings, job, item, keyed)
    (opened,) = await outbox_events(db, "bpo.validation.exception.opened", item_id=str(item))
    return item, UUID(opened.data["exception_id"])


async def test_an_exception_resolved_while_its_items_erasure_runs_keeps_no_value(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    client = tokens.client(job.client_id)
    item, exception_id = await _opened(validation_db, validation_settings, job)

    caller = Principal("ap-clerk", Role.CLIENT, job.client_id)
    accept = ExceptionResolve(action=ExceptionAction.ACCEPT, note="price agreed")
    async with validation_db() as one:
        await exceptions.resolve(one, exception_id, caller, accept, job_keys(validation_settings))
        # Meanwhile the consumer reads the item's erasure.
        erasing = asyncio.create_task(erase(validation_db, validation_settings, job, [item]))
        done, _ = await asyncio.wait({erasing}, timeout=0.5)
        assert not done, "the erasure waits for the resolution"
        await one.commit()
    await asyncio.wait_for(erasing, 10)

    async with validation_db() as session:
        query = select(Decision).where(Decision.item_id == item).order_by(Decision.decided_at)
        kept = list(await session.scalars(query))
    assert [(d.outcome, d.result) for d in kept] == [("exception", None), ("accepted", None)]
    shown = await validation.get(f"/v1/items/{item}/decision", headers=client)
    assert (shown.json()["decision"], shown.json()["result"]) == ("accepted", None)
    assert VENDOR not in shown.text


async def test_a_resolution_sent_while_its_items_erasure_runs_waits_and_is_refused(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    item, exception_id = await _opened(validation_db, validation_settings, job)
    erased = DataErased(
        erasure_id=new_id(), job_id=job.job_id, client_id=job.client_id, item_ids=[item],
        requested_at=utcnow(),
    )  # fmt: skip
    async with validation_db() as one:
        await erasure.erase(one, erased, keys=job_keys(validation_settings).keys)
        # Meanwhile the client accepts the invoice: the exception still reads open.
        accepting = asyncio.create_task(
            validation.post(
                f"/v1/exceptions/{exception_id}/resolve",
                json={"action": "accept"},
                headers=tokens.client(job.client_id),
            )
        )
        done, _ = await asyncio.wait({accepting}, timeout=0.5)
        assert not done, "the resolution waits for the erasure"
        await one.commit()
    accepted = await asyncio.wait_for(accepting, 10)
    assert "its item's data was erased" in assert_problem(accepted, 409)["detail"]
    async with validation_db() as session:
        kept = await session.scalars(select(Decision.outcome).where(Decision.item_id == item))
        assert list(kept) == ["exception"], "no resolution was kept"
