"""Two replicas' consumers applying keyings and items of the same two jobs, in opposite orders,
at the same time: both deliveries commit, the second after the first, and every item is
decided once."""

from datetime import UTC, datetime

from sqlalchemy import select

from bpo_common.contracts.intake import ItemsReceived, JobCreated, ReceivedItem, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import apply_crossed
from bpo_validation.consumers import subscriptions
from bpo_validation.models import JobRules
from bpo_validation.settings import Settings

from .submissions import job_keys, keying, new_job, published


async def test_mixed_deliveries_of_two_jobs_in_opposite_orders_both_commit(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    (subscription,) = subscriptions(validation_settings, job_keys(validation_settings))
    one, two = [await new_job(validation_db) for _ in range(2)]
    items = {job.job_id: [new_id(), new_id()] for job in (one, two)}

    def keyed(job: JobCreated, n: int) -> TaskSubmitted:
        return keying(job, items[job.job_id][n], {"number": "A-1", "total": "10"})

    def received(job: JobCreated) -> ItemsReceived:
        return ItemsReceived(
            job_id=job.job_id, client_id=job.client_id, work_type=job.work_type,
            items=[ReceivedItem(item_id=item_id, external_id=str(item_id), golden=False)
                   for item_id in items[job.job_id]],
            received_at=datetime.now(UTC),
        )  # fmt: skip

    # Each delivery's first run holds its job while the other delivery's last run wants it;
    # the items received between them make them runs apart.
    await apply_crossed(
        validation_db,
        subscription,
        _wrapped(keyed(one, 0), received(one), keyed(two, 0)),
        _wrapped(keyed(two, 1), received(two), keyed(one, 1)),
    )

    for item_id in items[one.job_id] + items[two.job_id]:
        (decision,) = await published(validation_db, item_id)
        assert decision.type == "bpo.validation.item.accepted"
    async with validation_db() as session:
        rules = await session.scalars(select(JobRules).where(JobRules.job_id.in_(items)))
        assert {job.job_id: job.items for job in rules} == dict.fromkeys(items, 2)


def _wrapped(*events: TaskSubmitted | ItemsReceived) -> list[Envelope]:
    """The events as intake publishes them."""
    return [wrap(event, source="intake", client_id=event.client_id) for event in events]
