"""Billing holds no keyed values: an erasure of a job changes none of its money records, and
billing records that it acted and tells intake, once however often the event comes."""

from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import DataErased
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.tables import erasure_record
from bpo_devtools.testing import outbox_events

from .conftest import Feed


async def test_an_erased_job_is_recorded_and_answered_and_a_second_time_changes_nothing(
    feed: Feed, billing_db: SessionFactory
) -> None:
    erased = DataErased(
        erasure_id=new_id(),
        job_id=new_id(),
        client_id=new_id(),
        item_ids=None,
        requested_at=utcnow(),
    )
    await feed(erased)
    await feed(erased)
    async with billing_db() as session:
        query = select(func.count(), func.bool_and(erasure_record.c.item_ids.is_(None))).where(
            erasure_record.c.erasure_id == erased.erasure_id
        )
        ((count, whole),) = (await session.execute(query)).all()
    assert (count, whole) == (1, True)
    answers = await outbox_events(billing_db, "bpo.billing.erasure.done", job_id=str(erased.job_id))
    # Announced once: a second reading (a replay of the stream) is not answered again.
    assert [answer.data["erasure_id"] for answer in answers] == [str(erased.erasure_id)]
    assert answers[0].data["service"] == "billing"
    assert answers[0].data["item_ids"] is None
