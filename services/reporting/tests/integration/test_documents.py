"""Pages per job: intake's DocumentsAdded events add up on the job in the SLA report,
however many uploads there were and whichever came before the job itself, each upload once."""

from datetime import UTC, datetime, timedelta

import httpx
from nats.js import JetStreamContext

from bpo_common.contracts.intake import DocumentsAdded, JobCreated
from bpo_common.contracts.vocabulary import QcPolicy
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import eventually

from .api import Reports
from .scenario import publish


async def test_the_sla_report_counts_a_jobs_documents_and_pages(
    reporting: httpx.AsyncClient, js: JetStreamContext, reports: Reports
) -> None:
    job_id, client_id = new_id(), new_id()
    now = datetime.now(UTC)

    def added(documents: int, pages: int, added_at: datetime) -> DocumentsAdded:
        return DocumentsAdded(
            job_id=job_id,
            client_id=client_id,
            work_type="invoice",
            documents=documents,
            pages=pages,
            added_at=added_at,
        )

    created = JobCreated(
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        fields=[],
        qc=QcPolicy(),
        priority=50,
        due_at=now + timedelta(days=1),
        sla_hours=None,
        external_ref=None,
        created_at=now,
    )
    # An upload may be counted before the job's own event arrives.
    events = [added(1, 2, now), created, added(1000, 2000, now + timedelta(seconds=1))]
    await publish(js, [wrap(event, source="intake", client_id=client_id) for event in events])

    async def counted() -> bool:
        body = await reports.body("sla", client_id=str(client_id))
        jobs = [job for job in body["data"] if job["job_id"] == str(job_id)]
        return bool(jobs) and (jobs[0]["documents"], jobs[0]["pages"]) == (1001, 2002)

    await eventually(counted, what="1,001 documents and 2,002 pages on the job")


async def test_an_upload_sent_again_under_a_new_event_id_counts_once(
    reporting: httpx.AsyncClient, js: JetStreamContext, reports: Reports
) -> None:
    job_id, client_id = new_id(), new_id()
    upload = DocumentsAdded(
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        documents=3,
        pages=7,
        added_at=datetime.now(UTC),
    )
    # The same upload twice, each time under an event id of its own, as a republishing
    # service would send it.
    await publish(js, [wrap(upload, source="intake", client_id=client_id) for _ in range(2)])

    body = await reports.body("sla", client_id=str(client_id))
    (job,) = [job for job in body["data"] if job["job_id"] == str(job_id)]
    assert (job["documents"], job["pages"]) == (3, 7)
