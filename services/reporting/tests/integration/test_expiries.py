"""Leases that ran out, per contractor: each expiry counts once, however often it is sent,
and a task that ran out on two leases counts twice."""

from datetime import UTC, datetime

import httpx
from nats.js import JetStreamContext

from bpo_common.contracts.intake import TaskExpired
from bpo_common.events import wrap
from bpo_common.ids import new_id

from .api import Reports
from .scenario import publish

DAY = datetime(2004, 2, 3, tzinfo=UTC)
WHOLE_DAY = {"from": "2004-02-03T00:00:00Z", "to": "2004-02-04T00:00:00Z"}


async def test_an_expiry_sent_again_counts_once_and_each_lease_that_ran_out_counts(
    reporting: httpx.AsyncClient, js: JetStreamContext, reports: Reports
) -> None:
    client_id, contractor_id, task_id = new_id(), new_id(), new_id()
    job_id, item_id = new_id(), new_id()

    def expired(attempts: int, hour: int) -> TaskExpired:
        return TaskExpired(
            task_id=task_id,
            job_id=job_id,
            item_id=item_id,
            client_id=client_id,
            contractor_id=contractor_id,
            attempts=attempts,
            requeued=True,
            expired_at=DAY.replace(hour=hour),
        )

    # The task ran out on its first lease and, claimed again, on its second; the first
    # expiry is sent three times, each under an event id of its own.
    events = [expired(1, 9), expired(1, 9), expired(2, 10), expired(1, 9)]
    await publish(js, [wrap(event, source="intake", client_id=client_id) for event in events])

    body = await reports.body("contractors", **WHOLE_DAY)
    (row,) = [row for row in body["data"] if row["contractor_id"] == str(contractor_id)]
    assert row["tasks_expired"] == 2
