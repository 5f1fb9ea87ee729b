"""The SLA outlook of an open job with nothing left: it completes, once closed, at the time its
last item was finished, so that time is its forecast and says whether it is late."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from nats.js import JetStreamContext

from bpo_common.contracts.intake import (
    ItemCompleted,
    ItemRejected,
    ItemsReceived,
    JobCreated,
    ReceivedItem,
)
from bpo_common.contracts.vocabulary import QcPolicy
from bpo_common.events import Event, wrap
from bpo_common.ids import new_id

from .api import Reports
from .scenario import publish

DAY = datetime(2005, 7, 8, tzinfo=UTC)


def _finished_job(client_id: UUID, due_at: datetime) -> tuple[UUID, list[Event]]:
    """A job due at `due_at` whose two items were finished at 10:00 and 11:00, not closed."""
    job_id, completed, rejected = new_id(), new_id(), new_id()
    job = {"job_id": job_id, "client_id": client_id, "work_type": "invoice"}
    events: list[Event] = [
        # The last item's end first: the outlook does not depend on the events' order.
        ItemRejected(
            item_id=rejected, **job, reason="unreadable", rejected_at=DAY + timedelta(hours=11)
        ),
        JobCreated(
            **job,
            fields=[],
            qc=QcPolicy(),
            priority=50,
            due_at=due_at,
            sla_hours=None,
            external_ref=None,
            created_at=DAY,
        ),
        ItemsReceived(
            **job,
            items=[
                ReceivedItem(item_id=item_id, external_id=str(item_id), golden=False)
                for item_id in (completed, rejected)
            ],
            received_at=DAY + timedelta(hours=9),
        ),
        ItemCompleted(
            item_id=completed,
            **job,
            golden=False,
            fields=1,
            completed_at=DAY + timedelta(hours=10),
        ),
    ]
    return job_id, events


async def test_a_job_with_nothing_left_is_forecast_at_its_last_item_and_late_only_past_due(
    js: JetStreamContext, reports: Reports
) -> None:
    client_id = new_id()
    on_time, on_time_events = _finished_job(client_id, DAY + timedelta(hours=12))
    late, late_events = _finished_job(client_id, DAY + timedelta(hours=10, minutes=30))
    await publish(js, [wrap(event, source="intake") for event in (*on_time_events, *late_events)])

    sla = await reports.body("sla", client_id=str(client_id))

    outlook = {
        row["job_id"]: (row["items_remaining"], row["forecast_completion_at"], row["at_risk"])
        for row in sla["data"]
    }
    assert outlook == {
        str(on_time): (0, "2005-07-08T11:00:00Z", False),
        str(late): (0, "2005-07-08T11:00:00Z", True),
    }
    assert (sla["jobs_open"], sla["jobs_at_risk"]) == (2, 1)
