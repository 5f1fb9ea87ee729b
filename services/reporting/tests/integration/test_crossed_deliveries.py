"""Two replicas' consumers applying events of the same two jobs, in opposite orders, at the
same time: both deliveries commit, the second after the first, and every event counts once."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from nats.js import JetStreamContext
from sqlalchemy import select

from bpo_common.contracts.intake import ItemCompleted, ItemRejected, JobCreated
from bpo_common.contracts.vocabulary import QcPolicy
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import apply
from bpo_devtools.testing import apply_crossed
from bpo_reporting.consumers import subscriptions
from bpo_reporting.models import HourlyRollup, JobFact

from .scenario import publish

DAY = datetime(2004, 4, 6, tzinfo=UTC)
TEN = DAY + timedelta(hours=10)


async def test_deliveries_of_two_jobs_in_opposite_orders_both_commit(
    reporting_db: SessionFactory, js: JetStreamContext
) -> None:
    (subscription,) = subscriptions
    jobs = {new_id(): new_id(), new_id(): new_id()}  # job: its client
    (one, two) = jobs

    def completed(job_id: UUID) -> ItemCompleted:
        return ItemCompleted(
            item_id=new_id(), job_id=job_id, client_id=jobs[job_id], work_type="invoice",
            golden=False, fields=1, completed_at=TEN,
        )  # fmt: skip

    def rejected(job_id: UUID) -> ItemRejected:
        return ItemRejected(
            item_id=new_id(), job_id=job_id, client_id=jobs[job_id], work_type="invoice",
            reason="unreadable", rejected_at=TEN,
        )  # fmt: skip

    created = [
        JobCreated(
            job_id=job_id, client_id=client_id, work_type="invoice", fields=[], qc=QcPolicy(),
            priority=50, due_at=None, sla_hours=None, external_ref=None, created_at=DAY,
        )
        for job_id, client_id in jobs.items()
    ]  # fmt: skip
    made = _wrapped(created)
    first, second = (
        _wrapped([completed(one), rejected(two)]),
        _wrapped([rejected(two), completed(one)]),
    )
    async with reporting_db() as session, session.begin():
        await apply(session, subscription, made)

    # Each delivery's first run holds its job's fact and its client's hour while the other
    # delivery's last run wants them.
    await apply_crossed(reporting_db, subscription, first, second)

    async with reporting_db() as session:
        facts = await session.scalars(select(JobFact).where(JobFact.job_id.in_(jobs)))
        counts = {f.job_id: (f.items_completed, f.items_rejected) for f in facts}
        rollups = await session.scalars(
            select(HourlyRollup).where(HourlyRollup.client_id.in_(jobs.values()))
        )
        hours = {r.client_id: (r.hour, r.items_completed, r.items_rejected) for r in rollups}
    assert counts == {one: (2, 0), two: (0, 2)}
    assert hours == {jobs[one]: (TEN, 2, 0), jobs[two]: (TEN, 0, 2)}
    # On the stream too, as the relays would have put them: what reporting counts is there for
    # a rebuild to find. Its consumer takes them as copies of what it applied, before this
    # module's app stops (else they waited out their ack time in the next module's).
    await publish(js, [*made, *first, *second])


def _wrapped(events: Sequence[ItemCompleted | ItemRejected | JobCreated]) -> list[Envelope]:
    """The events as intake publishes them."""
    return [wrap(event, source="intake", client_id=event.client_id) for event in events]
