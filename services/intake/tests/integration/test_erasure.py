"""Erasure in intake: a job's or an item's values go, its data key with a whole job, the
erasure is announced once; retention erases a job that ended long enough ago."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from bpo_common.auth import Scope
from bpo_common.clock import utcnow
from bpo_common.contracts import validation
from bpo_common.contracts.intake import ERASED_REASON, DataKeysReply, DataKeysRequest
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, assert_problem, outbox_events
from bpo_intake.domain.erasure import RetentionFailures
from bpo_intake.models import Item, Job, WebhookDelivery
from bpo_intake.service import decisions, erasure, keys
from bpo_intake.settings import Settings

from .conftest import create_job, register_client
from .keying import lease_a_task, stored_task
from .receiver import register_hooked_client


def _items(*numbers: str) -> list[dict[str, Any]]:
    return [{"external_id": n, "source": {"invoice_number": n}} for n in numbers]


async def _stored(sessions: SessionFactory, job_id: str) -> tuple[Job, dict[str, Item]]:
    async with sessions() as session:
        job = (await session.execute(select(Job).where(Job.id == UUID(job_id)))).scalar_one()
        items = (await session.execute(select(Item).where(Item.job_id == job.id))).scalars()
        return job, {str(item.external_id): item for item in items}


async def test_an_erased_item_keeps_its_place_but_not_its_values_and_once_is_enough(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id = await register_client(intake, tokens, "Erasing Ltd")
    gone, kept = f"INV-{new_id().hex[-8:]}", f"INV-{new_id().hex[-8:]}"
    job = await create_job(intake, tokens, client_id, items=_items(gone, kept))
    _, items = await _stored(intake_db, job["id"])
    item_id = items[gone].id

    other = await register_client(intake, tokens, "Someone Else")
    foreign = await intake.delete(f"/v1/items/{item_id}/data", headers=tokens.client(other))
    assert_problem(foreign, 404)
    ops = await intake.delete(f"/v1/items/{item_id}/data", headers=tokens.manager(Scope.OPS))
    assert "admin" in assert_problem(ops, 403)["detail"]

    erased = await intake.delete(f"/v1/items/{item_id}/data", headers=tokens.client(client_id))
    assert erased.status_code == 202, erased.text
    state = erased.json()
    assert state["item_ids"] == [str(item_id)]
    assert state["intake"]["erased_at"] is not None
    assert state["validation"] == {"erased_at": None}, "pending until validation answers"
    again = await intake.delete(f"/v1/items/{item_id}/data", headers=tokens.client(client_id))
    assert again.status_code == 202, again.text
    assert again.json()["erasure_id"] == state["erasure_id"], "a second erasure is a no-op"

    stored_job, items = await _stored(intake_db, job["id"])
    assert items[gone].source == {}
    assert (items[gone].status, items[kept].status) == ("rejected", "pending")
    assert items[kept].source == {"invoice_number": kept}
    (rejected,) = await outbox_events(intake_db, "bpo.intake.item.rejected", job_id=job["id"])
    assert (rejected.data["item_id"], rejected.data["reason"]) == (str(item_id), ERASED_REASON)
    assert rejected.data["erased"] is True, "reporting counts it as no rejection"
    assert stored_job.data_key is not None, "the job's other items still need its key"
    announced = await outbox_events(intake_db, "bpo.intake.data.erased", job_id=job["id"])
    assert [e.data["item_ids"] for e in announced] == [[str(item_id)]]


async def test_an_erased_job_loses_its_values_and_its_data_key(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await register_client(intake, tokens, "Erasing Job Ltd")
    number = f"INV-{new_id().hex[-8:]}"
    job = await create_job(intake, tokens, client_id, items=_items(number))
    before = await intake.get(f"/v1/jobs/{job['id']}/erasure", headers=tokens.client(client_id))
    assert before.json()["erasure_id"] is None
    admin = tokens.manager(Scope.ADMIN)
    stored_job, _ = await _stored(intake_db, job["id"])
    assert stored_job.data_key is not None
    data_keys.of(stored_job.id, stored_job.data_key)  # a process that kept the key
    erased = await intake.delete(f"/v1/jobs/{job['id']}/data", headers=admin)
    assert erased.status_code == 202, erased.text
    assert erased.json()["item_ids"] is None
    stored_job, items = await _stored(intake_db, job["id"])
    assert stored_job.data_key is None
    # Without its data the work stops: the job is cancelled, its items as they were.
    assert (stored_job.status, items[number].status) == ("cancelled", "pending")
    (cancelled,) = await outbox_events(intake_db, "bpo.intake.job.cancelled", job_id=job["id"])
    assert cancelled.data["job_id"] == job["id"]
    assert await outbox_events(intake_db, "bpo.intake.item.rejected", job_id=job["id"]) == []
    with pytest.raises(NotFound):  # read with the job, the key is gone: not the one kept
        async with intake_db() as session, session.begin():
            await keys.key_of_job(session, data_keys, stored_job.id, stored_job.data_key)
    assert items[number].source == {}
    shown = await intake.get(f"/v1/jobs/{job['id']}/erasure", headers=tokens.client(client_id))
    assert shown.json()["erasure_id"] == erased.json()["erasure_id"]
    # The admin who asked for it follows it up too.
    followed = await intake.get(f"/v1/jobs/{job['id']}/erasure", headers=admin)
    assert followed.status_code == 200, followed.text
    assert followed.json()["erasure_id"] == erased.json()["erasure_id"]
    assert followed.json()["intake"]["erased_at"] is not None
    billed = await intake.get(
        f"/v1/jobs/{job['id']}/erasure", headers=tokens.manager(Scope.FINANCE)
    )
    assert assert_problem(billed, 403)["detail"] == (
        "this needs the scope ops or admin; the token has finance"
    )
    # A late request for the job's key (validation's, for a submission still on its way) gets
    # none: a new key would make the job's late values readable again.
    asked = DataKeysRequest(job_ids=[UUID(job["id"])]).model_dump_json().encode()
    reply = DataKeysReply.model_validate_json(await keys.answer(intake_db, data_keys.ring, asked))
    assert reply.keys == {}
    stored_job, _ = await _stored(intake_db, job["id"])
    assert stored_job.data_key is None


async def test_retention_erases_a_job_that_ended_longer_ago_than_the_client_keeps_data(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    client_id = await register_client(intake, tokens, "Short Memory Ltd")
    url = f"/v1/clients/{client_id}/retention"
    too_long = await intake.put(url, json={"retention_days": 36500}, headers=tokens.manager())
    assert "retention_days" in assert_problem(too_long, 422)["detail"]
    kept = await intake.put(url, json={"retention_days": 30}, headers=tokens.manager())
    assert kept.status_code == 200, kept.text
    assert kept.json()["retention_days"] == 30
    number = f"INV-{new_id().hex[-8:]}"
    job = await create_job(intake, tokens, client_id, items=_items(number))
    cancelled = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=tokens.client(client_id))
    assert cancelled.status_code == 200, cancelled.text
    settings = stack.settings(Settings, "intake")
    keys = settings.data_keys()

    async def one_pass() -> None:
        async with intake_db() as session, session.begin():
            await erasure.erase_past_retention(
                session, keys, 365, utcnow(), [], RetentionFailures()
            )

    await one_pass()
    assert (await _stored(intake_db, job["id"]))[1][number].source != {}, "not yet: 30 days"
    async with intake_db() as session, session.begin():
        ended = utcnow() - timedelta(days=31)
        await session.execute(
            update(Job).where(Job.id == UUID(job["id"])).values(cancelled_at=ended)
        )
    await one_pass()
    stored_job, items = await _stored(intake_db, job["id"])
    assert items[number].source == {}
    assert stored_job.data_key is None
    shown = await intake.get(f"/v1/jobs/{job['id']}/erasure", headers=tokens.client(client_id))
    assert shown.json()["intake"]["erased_at"] is not None


async def test_work_under_way_on_an_erased_item_brings_none_of_its_values_back(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    lease = await lease_a_task(intake, tokens)
    job_id, item_id = UUID(lease.job["id"]), UUID(lease.task["item_id"])
    owner = tokens.client(UUID(lease.job["client_id"]))
    assert (await intake.delete(f"/v1/items/{item_id}/data", headers=owner)).status_code == 202

    # The keyer's task is withdrawn: what they key from what they saw is not taken.
    assert (await stored_task(intake_db, lease.task["id"])).status == "cancelled"
    late = await intake.post(
        f"/v1/tasks/{lease.task['id']}/submit",
        json={"data": {"invoice_number": "INV-1", "total": "10"}},
        headers=lease.keyer,
    )
    assert "not leased to you" in assert_problem(late, 409)["detail"]
    assert (await stored_task(intake_db, lease.task["id"])).data in (None, {})

    # A decision on its way from before the erasure changes nothing either.
    _, before = await _stored(intake_db, lease.job["id"])
    async with intake_db() as session, session.begin():
        job = await session.get(Job, job_id)
        assert job is not None
        key = await keys.key_of_job(session, data_keys, job_id, job.data_key)
        accepted = validation.ItemAccepted(
            item_id=item_id,
            job_id=job_id,
            client_id=job.client_id,
            result=key.seal({"invoice_number": "INV-1", "total": "10"}),
            decided_at=utcnow(),
        )
        await decisions.decide_items(session, [accepted], data_keys)
    _, after = await _stored(intake_db, lease.job["id"])
    (item,) = after.values()
    assert item.status == next(iter(before.values())).status
    assert item.result is None, "never set from the late decision"


async def test_an_erased_jobs_items_are_still_listed_their_personal_values_masked(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Listing Ltd")
    fields = [
        {"name": "invoice_number", "type": "string"},
        {"name": "holder", "type": "string", "pii": True},
    ]
    items = [{"external_id": "a", "source": {"invoice_number": "A-1", "holder": "Ann Smith"}}]
    job = await create_job(intake, tokens, client_id, fields=fields, items=items)
    admin = tokens.manager(Scope.ADMIN)
    assert (await intake.delete(f"/v1/jobs/{job['id']}/data", headers=admin)).status_code == 202

    listed = await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id))
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["data"]
    assert item["external_id"] == "a"
    assert "Ann Smith" not in listed.text


async def test_a_closed_job_completes_once_its_last_unfinished_item_is_erased(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id, _ = await register_hooked_client(intake, tokens, "https://hooks.wait.example/bpo")
    owner = tokens.client(client_id)
    job = await create_job(intake, tokens, client_id, items=_items("A-1", "A-2"))
    assert (await intake.post(f"/v1/jobs/{job['id']}/close", headers=owner)).status_code == 200
    _, items = await _stored(intake_db, job["id"])

    first = await intake.delete(f"/v1/items/{items['A-1'].id}/data", headers=owner)
    assert first.status_code == 202, first.text
    stored_job, _ = await _stored(intake_db, job["id"])
    assert stored_job.status == "closed", "A-2 is still to be keyed"
    assert (await intake.delete(f"/v1/items/{items['A-2'].id}/data", headers=owner)).is_success

    shown = (await intake.get(f"/v1/jobs/{job['id']}", headers=owner)).json()
    assert shown["status"] == "completed"
    (completed,) = await outbox_events(intake_db, "bpo.intake.job.completed", job_id=job["id"])
    assert completed.data["items_rejected"] == 2
    listed = await intake.get(f"/v1/jobs/{job['id']}/items", headers=owner)
    assert {item["status"] for item in listed.json()["data"]} == {"rejected"}
    # The client hears of each rejection, and why: not emptied by the erasure itself.
    async with intake_db() as session:
        told = await session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.client_id == client_id,
                WebhookDelivery.event_type == "item.rejected",
            )
        )
        data = sorted((d.payload["data"] for d in told), key=lambda d: d["external_id"])
    assert [(d["external_id"], d["reason"]) for d in data] == [
        ("A-1", ERASED_REASON),
        ("A-2", ERASED_REASON),
    ]


async def test_retention_counts_from_a_jobs_close_when_its_items_were_final_long_before(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    client_id = await register_client(intake, tokens, "Standing Orders Ltd")
    url = f"/v1/clients/{client_id}/retention"
    assert (await intake.put(url, json={"retention_days": 30}, headers=tokens.manager())).is_success
    number = f"INV-{new_id().hex[-8:]}"
    job = await create_job(intake, tokens, client_id, items=_items(number))
    (item,) = (await _stored(intake_db, job["id"]))[1].values()
    data_keys = stack.settings(Settings, "intake").data_keys()
    async with intake_db() as session, session.begin():
        stored_job = await session.get(Job, item.job_id)
        assert stored_job is not None
        key = await keys.key_of_job(session, data_keys, item.job_id, stored_job.data_key)
        accepted = validation.ItemAccepted(
            item_id=item.id,
            job_id=item.job_id,
            client_id=client_id,
            result=key.seal({"invoice_number": number, "total": "5"}),
            decided_at=utcnow() - timedelta(days=40),
        )
        await decisions.decide_items(session, [accepted], data_keys)
    closed = await intake.post(f"/v1/jobs/{job['id']}/close", headers=tokens.client(client_id))
    assert closed.json()["status"] == "completed"

    async with intake_db() as session, session.begin():
        await erasure.erase_past_retention(
            session, data_keys, 365, utcnow(), [], RetentionFailures()
        )
    assert (await _stored(intake_db, job["id"]))[1][number].source != {}, "closed today"


async def _held(sessions: SessionFactory, keys: DataKeys, item: Item) -> None:
    """The item waits on a match exception."""
    opened = validation.ExceptionOpened(
        exception_id=new_id(),
        item_id=item.id,
        job_id=item.job_id,
        client_id=item.client_id,
        outcome="mismatch",
        reasons=["no order PO-1"],
        lines=[],
        opened_at=utcnow(),
    )
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [opened], keys)


async def test_an_item_waiting_on_an_exception_is_rejected_with_its_jobs_data_as_with_its_own(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    """Validation closes the exception of an erased item, whatever its job's status: the item
    is rejected as erased, its job's other items stay as the cancel leaves them."""
    client_id = await register_client(intake, tokens, "Unmatched Ltd")
    owner = tokens.client(client_id)
    job = await create_job(intake, tokens, client_id, items=_items("B-1", "B-2"))
    assert (await intake.post(f"/v1/jobs/{job['id']}/close", headers=owner)).is_success
    other = await create_job(intake, tokens, client_id, items=_items("C-1"))
    _, items = await _stored(intake_db, job["id"])
    (cancelled_one,) = (await _stored(intake_db, other["id"]))[1].values()
    for item in (items["B-1"], cancelled_one):
        await _held(intake_db, data_keys, item)
    assert (await intake.post(f"/v1/jobs/{other['id']}/cancel", headers=owner)).is_success

    assert (await intake.delete(f"/v1/jobs/{job['id']}/data", headers=owner)).is_success
    url = f"/v1/items/{cancelled_one.id}/data"
    assert (await intake.delete(url, headers=owner)).is_success

    shown = (await intake.get(f"/v1/jobs/{job['id']}", headers=owner)).json()
    assert (shown["status"], shown["counts"]["exception"]) == ("cancelled", 0)
    assert (shown["counts"]["rejected"], shown["counts"]["pending"]) == (1, 1)
    for job_id, external_id in ((job["id"], "B-1"), (other["id"], "C-1")):
        listed = await intake.get(f"/v1/jobs/{job_id}/items?status=rejected", headers=owner)
        (item,) = listed.json()["data"]
        assert (item["external_id"], item["exception"]) == (external_id, None)
        (rejected,) = await outbox_events(intake_db, "bpo.intake.item.rejected", job_id=job_id)
        assert (rejected.data["reason"], rejected.data["erased"]) == (ERASED_REASON, True)
