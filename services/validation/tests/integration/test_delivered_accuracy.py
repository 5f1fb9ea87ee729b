"""Once an adaptive job completed, its accuracy is what it was said to deliver then, which
intake shows and flags and billing credits: its keyers' records moving on change it no more."""

from uuid import UUID

import httpx

from bpo_common.contracts.intake import JobCreated
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import a_thousand_items, accuracy_said, new_item, new_job, published, submit

DATA = {"number": "N-1", "total": "3"}
WRONG = {"number": "X-9", "total": "4"}


async def _carried_alone(db: SessionFactory, settings: Settings, job: JobCreated) -> UUID:
    """A keyer right on 40 control items, beside another, whose keyings of the job's items
    (a thousand received) stand alone: the keyer carries them."""
    proven, other = new_id(), new_id()
    for keyer in (proven, other):
        for _ in range(40):
            await submit(db, settings, job, new_id(), DATA, golden=DATA, contractor_id=keyer)
    await a_thousand_items(db, job)
    for _ in range(3):
        item = new_item("0", sampled=False)
        await submit(db, settings, job, item, DATA, contractor_id=proven)
        (ruled,) = await published(db, item)
        assert ruled.type == "bpo.validation.item.accepted", "carried alone"
    return proven


async def test_a_completed_jobs_accuracy_is_what_it_delivered_whatever_its_keyers_do_after(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    work_type = f"delivered-{new_id().hex[-8:]}"
    job = await new_job(validation_db, work_type=work_type, mode="adaptive", target_accuracy="0.95")
    keyer = await _carried_alone(validation_db, validation_settings, job)
    said = await accuracy_said(validation_db, validation_settings, job)
    assert said is not None
    url = f"/v1/jobs/{job.job_id}/accuracy"
    delivered = (await validation.get(url, headers=tokens.manager())).json()
    assert delivered["delivered_at"] is not None
    assert {name: delivered[name] for name in ("estimate", "lower", "upper", "assured")} == {
        name: said[name] for name in ("estimate", "lower", "upper", "assured")
    }
    assert delivered["meets_target"] is said["met"]

    # The keyer then keys a later job's control items of the work type all wrong.
    later = await new_job(validation_db, work_type=work_type, mode="adaptive")
    for _ in range(40):
        await submit(
            validation_db, validation_settings, later, new_id(), WRONG, golden=DATA,
            contractor_id=keyer,
        )  # fmt: skip
    assert await validation.get(f"/v1/jobs/{later.job_id}/accuracy", headers=tokens.manager())

    after = (await validation.get(url, headers=tokens.manager())).json()

    assert after == delivered, "what was delivered, flagged and credited stays"
