"""Erasure in validation: an erased item's entries and decisions keep no value while the
job's other items keep theirs; an erased job loses its data key too; each erasure is
answered to intake."""

import asyncio
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DataErased
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, outbox_events
from bpo_validation.models import Decision, Entry, JobDataKey, ProvisionalJudgement
from bpo_validation.service import erasure
from bpo_validation.settings import Settings

from .submissions import erase, job_keys, new_item, new_job, published, submit
from .test_matching import po_job

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "string", "pii": True},
    {"name": "city", "type": "string"},
]


async def _kept(db: SessionFactory, item_id: UUID) -> str:
    async with db() as session:
        rows: list[Any] = [*await session.scalars(select(Entry).where(Entry.item_id == item_id))]
        rows += await session.scalars(select(Decision).where(Decision.item_id == item_id))
    assert rows, "validation keeps entries and a decision of the item"
    return " ".join(str({k: v for k, v in vars(row).items() if k[0] != "_"}) for row in rows)


async def test_an_erased_item_and_then_its_job_keep_no_value_and_are_answered(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="single", review_sample_rate="0")
    cities = {new_item("0", sampled=False): f"Town{new_id().hex[-8:]}" for _ in range(2)}
    for item_id, city in cities.items():
        keyed = {"name": "Someone", "city": city}
        await submit(validation_db, validation_settings, job, item_id, keyed)
    gone, kept = list(cities)

    erased = await erase(validation_db, validation_settings, job, [gone])
    assert cities[gone] not in await _kept(validation_db, gone)
    assert cities[kept] in await _kept(validation_db, kept)
    async with validation_db() as session:
        key = await session.get(JobDataKey, job.job_id)
    assert key is not None, "the job's other items still need its key"

    whole = await erase(validation_db, validation_settings, job, None)
    assert cities[kept] not in await _kept(validation_db, kept)
    async with validation_db() as session:
        assert await session.get(JobDataKey, job.job_id) is None
    answers = await outbox_events(
        validation_db, "bpo.validation.erasure.done", job_id=str(job.job_id)
    )
    assert [a.data["erasure_id"] for a in answers] == [
        str(erased.erasure_id),
        str(whole.erasure_id),
    ]
    assert {a.data["service"] for a in answers} == {"validation"}


async def test_what_a_keyer_typed_of_an_erased_item_goes_and_what_happened_stays(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="single", review_sample_rate="0")
    item_id = new_item("0", sampled=False)
    typed = "the IBAN of Anna Schmidt is cut off"
    await submit(validation_db, validation_settings, job, item_id, {}, rejection=typed)
    assert typed in await _kept(validation_db, item_id)

    await erase(validation_db, validation_settings, job, [item_id])

    assert "Anna Schmidt" not in await _kept(validation_db, item_id)
    async with validation_db() as session:
        (entry,) = await session.scalars(select(Entry).where(Entry.item_id == item_id))
        reasons = await session.scalars(select(Decision.reason).where(Decision.item_id == item_id))
        assert (entry.rejection, set(reasons)) == ("", {"marked unreadable"})


async def test_an_erased_invoices_decision_keeps_the_fixed_words_of_its_reason_alone(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await po_job(validation_db, validation, tokens)
    invoice = {"vendor": "acme", "po": "po-1", "dated": "2026-11-30"}
    # 10 of A at 5.10 match order PO-1; 2 of B at 103 were received once, ordered at 100.
    billed = {
        "accepted": ("51.00", [{"sku": "A", "qty": 10, "unit_price": "5.10"}], "matches order"),
        "exception": ("206.00", [{"sku": "B", "qty": 2, "unit_price": "103"}], "does not match"),
    }
    items = {outcome: new_item("0", sampled=False) for outcome in billed}
    for outcome, item in items.items():
        total, lines, said = billed[outcome]
        keyed = {**invoice, "number": f"INV-{item.hex[-6:]}", "total": total, "lines": lines}
        await submit(validation_db, validation_settings, job, item, keyed)
        decided = await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())
        assert (decided.json()["decision"], said in decided.json()["reason"]) == (outcome, True)

    await erase(validation_db, validation_settings, job, list(items.values()))

    shown = {
        outcome: await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())
        for outcome, item in items.items()
    }
    # Nor does the item's history quote the order number or the invoice's figures.
    assert {o: [h["reason"] for h in a.json()["history"]] for o, a in shown.items()} == {
        "accepted": ["single keying, valid; matches order"],
        "exception": ["does not match its purchase order"],
    }


async def test_a_keying_read_after_its_items_erasure_is_not_kept_nor_decided(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="single", review_sample_rate="0")
    item, other = new_item("0", sampled=False), new_item("0", sampled=False)
    await erase(validation_db, validation_settings, job, [item])
    # Keyed before the erasure, read after it.
    await submit(validation_db, validation_settings, job, item, {"name": "Ann", "city": "Ely"})
    async with validation_db() as session:
        kept = await session.scalars(select(Entry).where(Entry.item_id == item))
        assert list(kept) == []
    assert await published(validation_db, item) == []

    # A job erased whole has no key left to open a late keying with: it is dropped, not
    # retried for ever.
    await erase(validation_db, validation_settings, job, None)
    await submit(validation_db, validation_settings, job, other, {"name": "Bo", "city": "Ely"})
    assert await published(validation_db, other) == []


async def test_a_keying_read_while_its_items_erasure_runs_waits_for_it_and_is_not_kept(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="single", review_sample_rate="0")
    item = new_item("0", sampled=False)
    event = DataErased(
        erasure_id=new_id(),
        job_id=job.job_id,
        client_id=job.client_id,
        item_ids=[item],
        requested_at=utcnow(),
    )
    async with validation_db() as one:
        await erasure.erase(one, event, keys=job_keys(validation_settings).keys)
        # Meanwhile another replica reads a keying of the item.
        keyed = {"name": "Ann", "city": "Ely"}
        applying = asyncio.create_task(submit(validation_db, validation_settings, job, item, keyed))
        done, _ = await asyncio.wait({applying}, timeout=0.5)
        assert not done, "it waits for the erasure"
        await one.commit()
    await asyncio.wait_for(applying, 10)
    async with validation_db() as session:
        assert list(await session.scalars(select(Entry).where(Entry.item_id == item))) == []
    assert await published(validation_db, item) == []


async def test_an_item_erased_while_it_awaits_its_adjudication_weighs_on_no_keyer(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    # Its two keyings differ: each counted half an error until the adjudication would say
    # which was right. Erased, it never gets one.
    job = await new_job(validation_db, fields=FIELDS, mode="double", review_sample_rate="0")
    item = new_item("0", sampled=False)
    for city in ("Ely", "Bath"):
        await submit(
            validation_db, validation_settings, job, item, {"name": "Ann", "city": city}, expected=2
        )
    provisional = select(ProvisionalJudgement).where(ProvisionalJudgement.item_id == item)
    async with validation_db() as session:
        assert list(await session.scalars(provisional)), "the keyings' half errors"

    await erase(validation_db, validation_settings, job, [item])
    async with validation_db() as session:
        assert list(await session.scalars(provisional)) == []
