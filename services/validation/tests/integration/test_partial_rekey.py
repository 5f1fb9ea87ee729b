"""Adaptive QC keys again only the fields a keyer is weak on: the event names them, the
second keying gives only them, and the item is decided on them with the first keying's
others standing."""

from uuid import UUID

import httpx

from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import SCORED, events, new_item, new_job, published, scored, submit

RIGHT = {"number": "N-1", "total": "3"}


async def _asked_again(
    db: SessionFactory, settings: Settings, job: JobCreated, item: UUID, keyer: UUID
) -> tuple[TaskSubmitted, str]:
    """The keyer's keying of the item, and why adaptive QC asks for the total again, alone."""
    keyed = await submit(db, settings, job, item, RIGHT, contractor_id=keyer)
    (asked,) = await published(db, item)
    assert (asked.type, asked.data["fields"]) == ("bpo.validation.keying.required", ["total"])
    return keyed, str(asked.data["reason"])


async def _total_again(
    db: SessionFactory, settings: Settings, job: JobCreated, item: UUID, total: str, keyer: UUID
) -> TaskSubmitted:
    """The second keying adaptive QC asked for: the total alone."""
    return await submit(
        db, settings, job, item, {"total": total}, expected=2, contractor_id=keyer,
        keyed_fields=["total"],
    )  # fmt: skip


async def test_a_keyer_weak_on_the_total_has_only_the_total_keyed_again(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    db, settings = validation_db, validation_settings
    # A work type of its own: the crew is this test's keyers. A low target, so that a job's
    # first item may already be keyed twice in part.
    work_type = f"partial-{new_id().hex[-8:]}"
    job = await new_job(db, work_type=work_type, mode="adaptive", target_accuracy="0.5")
    weak, crew = new_id(), [new_id() for _ in range(3)]
    for n in range(40):  # control items: the weak keyer has one total in four wrong
        keyed = {"number": "N-1", "total": "4"} if n % 4 == 0 else RIGHT
        await submit(db, settings, job, new_id(), keyed, golden=RIGHT, contractor_id=weak)
        for keyer in crew:
            await submit(db, settings, job, new_id(), RIGHT, golden=RIGHT, contractor_id=keyer)

    item = new_item("0", sampled=False)
    first, reason = await _asked_again(db, settings, job, item, weak)
    assert "; only total keyed again (the keyer's error rate there is over 2 times" in reason
    second = await _total_again(db, settings, job, item, "3.0", crew[0])
    _, accepted = await published(db, item)
    assert accepted.type == "bpo.validation.item.accepted"
    assert accepted.data["result"] == {"number": "N-1", "total": "3", "currency": None}
    # Each keying judged on the total alone: the number was keyed once.
    assert await scored(db, item) == {
        str(first.task_id): ("entry", "accepted", 1, 1),
        str(second.task_id): ("entry", "accepted", 1, 1),
    }
    # The second keying keyed one of the job's three fields: billing pays a third of the rate.
    shares = {
        e.data["task_id"]: e.data["share"] for e in await events(db, item) if e.type == SCORED
    }
    assert shares == {str(first.task_id): "1", str(second.task_id): "0.3333"}
    shown = await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())
    body = shown.json()
    assert body["reason"] == "2 keyings agree on total, the first keying's other fields standing"
    assert [(e["task_id"], e["keyed_fields"], e["data"]) for e in body["entries"]] == [
        (str(first.task_id), [], RIGHT),
        (str(second.task_id), ["total"], {"total": "3.0"}),
    ]
    ledger = await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    counts = ledger.json()
    assert (counts["items"], counts["single_keyed"], counts["keyed_twice"]) == (1, 0, 1)

    # A job of its own, as new: its first item is not carried by one keying either.
    later = await new_job(db, work_type=work_type, mode="adaptive", target_accuracy="0.5")
    differs = new_item("0", sampled=False)
    await _asked_again(db, settings, later, differs, weak)
    other = await _total_again(db, settings, later, differs, "30", crew[1])
    _, adjudication = await published(db, differs)
    assert adjudication.type == "bpo.validation.review.required"
    assert (adjudication.data["kind"], adjudication.data["differing"]) == (
        "adjudication",
        ["total"],
    )
    # The adjudicator sees the whole item: the second keying with the first keying's number.
    assert [(e["task_id"], e["data"]) for e in adjudication.data["entries"]][1] == (
        str(other.task_id),
        {"number": "N-1", "total": "30"},
    )
