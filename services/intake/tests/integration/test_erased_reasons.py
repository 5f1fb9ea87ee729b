"""What people typed about an item (a keyer's "cannot read it", a reviewer's rejection) goes from
the stream with the item's erasure: every event of the item keeps the fixed words of its
reason and still reads as its contract says."""

from typing import Any
from uuid import UUID

import httpx
from nats.js import JetStreamContext
from sqlalchemy import select

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind, reasons, validation
from bpo_common.contracts.erasure import (
    BillingErasureDone,
    ErasureDone,
    ReportingErasureDone,
    ValidationErasureDone,
)
from bpo_common.contracts.intake import Entry
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, Event, event_class, wrap
from bpo_common.messaging import durable_consumers, reads, replay
from bpo_devtools.testing import Tokens, acked_for, eventually
from bpo_intake.models import Item, Job, Task
from bpo_intake.service import erasure, keys

from .keying import claim_tasks, lease_a_task, new_contractor

UNREADABLE = "the IBAN of Anna Schmidt is cut off"
REJECTED = "Anna Schmidt's IBAN cannot be read, ask for a new scan"


async def _events_of(js: JetStreamContext, item_id: UUID) -> list[Envelope]:
    """Every event on the stream that names the item."""
    return [e async for e in replay(js, ["bpo.>"]) if str(item_id) in e.model_dump_json()]


async def _as_validation(js: JetStreamContext, event: Event, client_id: UUID) -> None:
    """Publish what validation would have decided."""
    envelope = wrap(event, source="validation", client_id=client_id)
    await js.publish(envelope.subject, envelope.model_dump_json().encode())


async def test_what_people_typed_about_an_erased_item_is_gone_from_the_stream(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    data_keys: DataKeys,
    js: JetStreamContext,
) -> None:
    lease = await lease_a_task(intake, tokens)
    job_id, item_id = UUID(lease.job["id"]), UUID(lease.task["item_id"])
    client_id = UUID(lease.job["client_id"])
    about: dict[str, Any] = {"item_id": item_id, "job_id": job_id, "client_id": client_id}
    marked = await intake.post(
        f"/v1/tasks/{lease.task['id']}/submit",
        json={"unreadable": UNREADABLE},
        headers=lease.keyer,
    )
    assert marked.status_code == 202, marked.text
    async with intake_db() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        key = await keys.key_of_job(session, data_keys, job_id, job.data_key)
    shown = Entry(
        task_id=UUID(lease.task["id"]),
        contractor_id=lease.keyer_id,
        data=key.seal({}),
        unreadable=UNREADABLE,
    )
    review = validation.ReviewRequired(
        **about,
        kind=TaskKind.REVIEW,
        entries=[shown],
        reason=reasons.unreadable([UNREADABLE]),
        decided_at=utcnow(),
    )
    await _as_validation(js, review, client_id)
    _, reviewer = await new_contractor(intake, tokens, "qc")
    given: list[dict[str, Any]] = []

    async def reviewing() -> bool:
        given.extend(await claim_tasks(intake, reviewer, kinds=["review"], job_id=str(job_id)))
        return bool(given)

    await eventually(reviewing, what="the review to be given")
    assert given[0]["reason"] == f"marked unreadable: {UNREADABLE}"
    rejected = await intake.post(
        f"/v1/tasks/{given[0]['id']}/submit", json={"reject": REJECTED}, headers=reviewer
    )
    assert rejected.status_code == 202, rejected.text
    decided = reasons.rejected(TaskKind.REVIEW, REJECTED)
    await _as_validation(
        js, validation.ItemRejected(**about, reason=decided, decided_at=utcnow()), client_id
    )

    async def all_told() -> bool:
        typed = [e for e in await _events_of(js, item_id) if "Anna Schmidt" in e.model_dump_json()]
        return len(typed) == 5

    # Both submissions, the review, validation's rejection and intake's, in clear.
    await eventually(all_told, what="the item's events to reach the stream")
    async with intake_db() as session:
        status = await session.scalar(select(Item.status).where(Item.id == item_id))
    assert status == "rejected"

    erased = await intake.delete(f"/v1/items/{item_id}/data", headers=tokens.client(client_id))
    assert erased.status_code == 202, erased.text
    async with intake_db() as session:
        kept_reason = await session.scalar(select(Task.reason).where(Task.id == given[0]["id"]))
    assert kept_reason == "marked unreadable"
    erasure_id = UUID(erased.json()["erasure_id"])
    async with intake_db() as session, session.begin():
        done: type[ErasureDone]
        for done in (ValidationErasureDone, BillingErasureDone, ReportingErasureDone):
            service = done.event_type.split(".")[1]
            answer = {"job_id": job_id, "item_ids": [item_id], "erased_at": utcnow()}
            told = done.model_validate(answer | {"erasure_id": erasure_id, "service": service})
            await erasure.record_done(session, told)

    # Validation, billing and reporting are not running: an earlier test's consumers of theirs
    # hold the item's events until the test reads them as those services would.
    subjects = {envelope.type for envelope in await _events_of(js, item_id)}
    for consumer in await durable_consumers(js):
        if consumer.name != "intake" and any(reads(consumer, s) for s in subjects):
            await acked_for(js, consumer.name)

    async def off_the_stream() -> bool:
        await erasure.erase_from_the_stream(intake_db, js)
        async with intake_db() as session:
            state = await erasure.erasure_state(session, job_id, None)
        return state.stream.erased_at is not None

    await eventually(off_the_stream, what="the stream erasure")

    kept = await _events_of(js, item_id)
    assert [e.type for e in kept if "Anna Schmidt" in e.model_dump_json()] == []
    said = sorted(
        (e.type, e.data.get("rejection"), e.data.get("reason"))
        for e in kept
        if e.type.endswith(("submitted", "rejected", "required"))
    )
    assert said == [
        ("bpo.intake.item.rejected", None, "rejected in review"),
        ("bpo.intake.task.submitted", "", None),
        ("bpo.intake.task.submitted", "", None),
        ("bpo.validation.item.rejected", None, "rejected in review"),
        ("bpo.validation.review.required", None, "marked unreadable"),
    ]
    for envelope in kept:  # as a consumer reading the stream again would read it
        envelope.payload(event_class(envelope.type))
