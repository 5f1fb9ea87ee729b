"""Pages per job: intake's DocumentsAdded events add up on the job in the SLA report,
however many uploads there were and whichever came before the job itself."""

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

    def added(documents: int, pages: int) -> DocumentsAdded:
        return DocumentsAdded(
            job_id=job_id,
            client_id=client_id,
            work_type="invoice",
            documents=documents,
            pages=pages,
            added_at=now,
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
    events = [added(1, 2), created, added(1000, 2000)]
    await publish(js, [wrap(event, source="intake", client_id=client_id) for event in events])

    async def counted() -> bool:
        body = await reports.body("sla", client_id=str(client_id))
        jobs = [job for job in body["data"] if job["job_id"] == str(job_id)]
        return bool(jobs) and (jobs[0]["documents"], jobs[0]["pages"]) == (1001, 2002)

    await eventually(counted, what="1,001 documents and 2,002 pages on the job")
