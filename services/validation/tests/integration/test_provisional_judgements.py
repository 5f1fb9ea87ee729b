"""Keyings that differ are judged against each other while their item awaits adjudication:
adaptive QC's record of the crew counts each field they differ on as half an error of each
keyer, until the adjudication's final judgements replace them, or their job is cancelled."""

from collections.abc import AsyncIterator
from uuid import UUID

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import JobCancelled
from bpo_common.db import SessionFactory
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_common.messaging import connect
from bpo_devtools.testing import TestStack, eventually
from bpo_validation.domain.crew import Tally
from bpo_validation.models import Judgement, ProvisionalJudgement
from bpo_validation.repository import accuracy
from bpo_validation.repository import decisions as decisions_repository
from bpo_validation.service.jobs import JobNotKnownYet
from bpo_validation.settings import Settings

from .submissions import cancel, new_job, submit

WINDOW = 1000


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    client = await connect(stack.urls.nats_url, name="validation-provisional-test")
    yield client.jetstream()
    await client.close()


async def _record(db: SessionFactory, work_type: str) -> dict[UUID, dict[str, Tally]]:
    async with db() as session:
        crew = await accuracy.crew_by_keyer(session, work_type, WINDOW)
    return {keyer: dict(fields) for keyer, fields in crew.by_keyer.items()}


async def _rows(db: SessionFactory, item: UUID) -> tuple[int, int]:
    """The item's provisional and final judged fields."""
    async with db() as session:
        counts = [
            await session.scalar(select(func.count()).where(table.item_id == item))
            for table in (ProvisionalJudgement, Judgement)
        ]
    return (counts[0] or 0, counts[1] or 0)


async def test_keyings_that_differ_count_half_an_error_each_until_adjudicated(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    work_type = f"provisional-{new_id()}"
    job = await new_job(validation_db, mode="double", work_type=work_type)
    item, right, wrong = new_id(), new_id(), new_id()
    for keyer, total in ((right, "7"), (wrong, "1")):
        data = {"number": "A", "total": total}
        await submit(validation_db, validation_settings, job, item, data,
                     expected=2, contractor_id=keyer)  # fmt: skip
    assert await _rows(validation_db, item) == (4, 0)
    half = {"number": Tally(1, 1.0), "total": Tally(1, 0.5)}
    assert await _record(validation_db, work_type) == {right: half, wrong: half}
    async with validation_db() as session:
        own = await accuracy.recent_by_field(session, wrong, work_type, WINDOW)
    assert own == half

    await submit(validation_db, validation_settings, job, item, {"number": "A", "total": "7"},
                 kind=TaskKind.ADJUDICATION)  # fmt: skip
    assert await _rows(validation_db, item) == (0, 4)
    assert await _record(validation_db, work_type) == {
        right: {"number": Tally(1, 1.0), "total": Tally(1, 1.0)},
        wrong: {"number": Tally(1, 1.0), "total": Tally(1, 0.0)},
    }


async def test_the_window_takes_the_latest_judged_fields_final_and_provisional_alike(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    work_type = f"provisional-{new_id()}"
    job = await new_job(validation_db, mode="double", work_type=work_type)
    keyer, other = new_id(), new_id()
    agreed, differing = new_id(), new_id()
    for item, total in ((agreed, "7"), (differing, "8")):
        await submit(validation_db, validation_settings, job, item, {"number": "A", "total": "7"},
                     expected=2, contractor_id=keyer)  # fmt: skip
        await submit(validation_db, validation_settings, job, item, {"number": "A", "total": total},
                     expected=2, contractor_id=other)  # fmt: skip
    async with validation_db() as session:
        latest = await accuracy.recent_by_field(session, keyer, work_type, 2)
        whole = await accuracy.recent_by_field(session, keyer, work_type, 4)
    # The provisional fields are the latest two.
    assert latest == {"number": Tally(1, 1.0), "total": Tally(1, 0.5)}
    assert whole == {"number": Tally(2, 2.0), "total": Tally(2, 1.5)}


async def test_an_adjudicator_who_rejects_the_item_ends_its_provisional_judgements(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    work_type = f"provisional-{new_id()}"
    job = await new_job(validation_db, mode="double", work_type=work_type)
    item = new_id()
    for total in ("7", "1"):
        await submit(validation_db, validation_settings, job, item, {"number": "A", "total": total},
                     expected=2)  # fmt: skip
    assert await _rows(validation_db, item) == (4, 0)
    await submit(validation_db, validation_settings, job, item, {}, kind=TaskKind.ADJUDICATION,
                 rejection="the scan is unreadable")  # fmt: skip
    assert await _rows(validation_db, item) == (0, 0), "nobody judged, nothing provisional"
    assert await _record(validation_db, work_type) == {}


async def test_a_cancelled_jobs_keyings_awaiting_adjudication_weigh_on_no_keyer(
    validation_db: SessionFactory, validation_settings: Settings, js: JetStreamContext
) -> None:
    # Intake withdraws the adjudication of a cancelled job's item: it never comes.
    work_type = f"provisional-{new_id()}"
    job = await new_job(validation_db, mode="double", work_type=work_type)
    item, keyer = new_id(), new_id()
    for contractor, total in ((keyer, "7"), (new_id(), "1")):
        await submit(validation_db, validation_settings, job, item, {"number": "A", "total": total},
                     expected=2, contractor_id=contractor)  # fmt: skip
    assert await _rows(validation_db, item) == (4, 0)

    cancelled = JobCancelled(
        job_id=job.job_id, client_id=job.client_id, tasks_withdrawn=1, cancelled_at=utcnow()
    )
    envelope = wrap(cancelled, source="intake", client_id=job.client_id)
    await js.publish(envelope.subject, envelope.model_dump_json().encode())

    async def dropped() -> bool:
        return await _rows(validation_db, item) == (0, 0)

    await eventually(dropped, what="the item's provisional judgements dropped")
    assert await _record(validation_db, work_type) == {}
    async with validation_db() as session:
        assert await accuracy.recent_by_field(session, keyer, work_type, WINDOW) == {}


@pytest.mark.parametrize("cancelled_first", [True, False])
async def test_a_keying_applied_after_its_jobs_cancel_keeps_no_provisional_judgement(
    validation_db: SessionFactory, validation_settings: Settings, cancelled_first: bool
) -> None:
    # The second keying was submitted before the cancel, but is applied after it (a batch
    # retried event by event, another replica's delivery), or before it, as on the stream.
    work_type = f"provisional-{new_id()}"
    job = await new_job(validation_db, mode="double", work_type=work_type)
    item, first, second = new_id(), new_id(), new_id()
    await submit(validation_db, validation_settings, job, item, {"number": "A", "total": "7"},
                 expected=2, contractor_id=first)  # fmt: skip
    if cancelled_first:
        await cancel(validation_db, job)
    await submit(validation_db, validation_settings, job, item, {"number": "A", "total": "1"},
                 expected=2, contractor_id=second)  # fmt: skip
    if not cancelled_first:
        await cancel(validation_db, job)

    assert await _rows(validation_db, item) == (0, 0)
    assert await _record(validation_db, work_type) == {}
    async with validation_db() as session:
        for keyer in (first, second):
            assert await accuracy.recent_by_field(session, keyer, work_type, WINDOW) == {}
        # The keyings themselves are kept.
        kept = await decisions_repository.entries_of_items(session, [item])
    assert {entry.contractor_id for entry in kept[item]} == {first, second}


async def test_a_cancel_waits_for_its_job(validation_db: SessionFactory) -> None:
    # A keying applied once the job had come would not know of a cancel applied before it.
    job = await new_job(validation_db)
    unknown = job.model_copy(update={"job_id": new_id()})
    with pytest.raises(JobNotKnownYet):
        await cancel(validation_db, unknown)
