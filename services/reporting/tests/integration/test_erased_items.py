"""An item closed because its data was erased before it was decided: no rejection and no
work finished, but no longer in its job's backlog either."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
from nats.js import JetStreamContext

from bpo_common.contracts.intake import (
    ERASED_REASON,
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

DAY = datetime(2004, 3, 5, tzinfo=UTC)
WHOLE_DAY = {"from": "2004-03-05T00:00:00Z", "to": "2004-03-06T00:00:00Z"}


async def test_an_item_closed_by_its_erasure_is_no_rejection_and_leaves_the_backlog(
    reporting: httpx.AsyncClient, js: JetStreamContext, reports: Reports
) -> None:
    client_id, job_id = new_id(), new_id()
    keyed, unreadable, erased, erased_before = new_id(), new_id(), new_id(), new_id()
    job = {"job_id": job_id, "client_id": client_id, "work_type": "invoice"}
    ten = DAY + timedelta(hours=10)

    def rejected(item_id: UUID, reason: str, *, erasure: bool) -> ItemRejected:
        return ItemRejected(item_id=item_id, **job, reason=reason, rejected_at=ten, erased=erasure)

    events: list[Event] = [
        JobCreated(
            **job,
            fields=[],
            qc=QcPolicy(),
            priority=50,
            due_at=DAY + timedelta(days=400),
            sla_hours=None,
            external_ref=None,
            created_at=DAY,
        ),
        ItemsReceived(
            **job,
            items=[
                ReceivedItem(item_id=item_id, external_id=str(item_id), golden=False)
                for item_id in (keyed, unreadable, erased, erased_before)
            ],
            received_at=DAY + timedelta(hours=9),
        ),
        ItemCompleted(item_id=keyed, **job, golden=False, fields=1, completed_at=ten),
        rejected(unreadable, "unreadable", erasure=False),
        rejected(erased, ERASED_REASON, erasure=True),
    ]
    envelopes = [wrap(event, source="intake", client_id=client_id) for event in events]
    # Sent before `erased` was: its reason alone says so.
    before = wrap(rejected(erased_before, ERASED_REASON, erasure=True), source="intake")
    data = {name: value for name, value in before.data.items() if name != "erased"}
    await publish(js, [*envelopes, before.model_copy(update={"data": data})])

    overview = await reports.body("overview", **WHOLE_DAY, client_id=str(client_id))
    counted = ("items_received", "items_completed", "items_rejected", "backlog")
    assert {name: overview[name] for name in counted} == {
        "items_received": 4,
        "items_completed": 1,
        "items_rejected": 1,
        "backlog": 0,
    }
    hourly = await reports.body("throughput", **WHOLE_DAY, client_id=str(client_id))
    (at_ten,) = [bucket for bucket in hourly["data"] if bucket["start"] == "2004-03-05T10:00:00Z"]
    assert (at_ten["items_completed"], at_ten["items_rejected"]) == (1, 1)
    sla = await reports.body("sla", client_id=str(client_id))
    (open_job,) = [row for row in sla["data"] if row["job_id"] == str(job_id)]
    assert (open_job["items_total"], open_job["items_remaining"]) == (4, 0)
