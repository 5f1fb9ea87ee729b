"""Jobs: clients create, close and cancel them; a closed job completes with its last item."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common import audit
from bpo_common.clock import utcnow
from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.contracts.intake import (
    ItemsReceived,
    JobCancelled,
    JobClosed,
    JobCompleted,
    JobCreated,
    ReceivedItem,
)
from bpo_common.crypto import DataKey, DataKeys
from bpo_common.db import advisory_lock
from bpo_common.errors import Conflict, Forbidden, NotFound
from bpo_common.ids import new_id
from bpo_common.notifications import notify
from bpo_common.outbox import publish, publish_many
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import JobSpec, spec_for
from bpo_intake.domain.documents import WORK_CHANNEL
from bpo_intake.domain.items import ItemIn, checked_items
from bpo_intake.domain.jobs import (
    ANALYZE_MIN_ITEMS,
    ITEMS_PER_EVENT,
    ItemStatus,
    JobStatus,
    chunked,
    due_at,
    entries_per_item,
    progress,
    statistics_outgrown,
)
from bpo_intake.domain.tasks import new_task
from bpo_intake.domain.webhooks import WebhookEvent
from bpo_intake.models import Job, JobAccuracy
from bpo_intake.repository import clients as clients_repository
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import jobs as repository
from bpo_intake.repository import qualifications as qualifications_repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.schemas import ItemCounts, JobAccuracyOut, JobCreate, JobOut
from bpo_intake.service import webhooks


def job_spec(job: Job) -> JobSpec:
    return spec_for(job.id, job.fields, job.rules, job.match)


async def create_job(
    session: AsyncSession, client_id: UUID, command: JobCreate, keys: DataKeys
) -> JobOut:
    """A new open job of a registered client, with its data key and the items the command
    carries."""
    if not await clients_repository.client_exists(session, client_id):
        raise Forbidden("this token's client is not registered; ask a manager to create it")
    now = utcnow()
    job_id = new_id()
    key, wrapped = keys.new(job_id)
    job = Job(
        id=job_id,
        client_id=client_id,
        status=JobStatus.OPEN,
        work_type=command.work_type,
        fields=[spec.model_dump(mode="json", exclude_none=True) for spec in command.fields],
        rules=list(command.rules),
        match=command.match.model_dump(mode="json") if command.match else None,
        qc=command.qc.model_dump(mode="json"),
        priority=command.priority,
        due_at=due_at(command.sla_hours, command.due_at, now),
        sla_hours=command.sla_hours,
        required_skills=await _required_skills(session, command),
        external_ref=command.external_ref,
        instructions=command.instructions,
        data_key=wrapped,
        created_at=now,
        completed_at=None,
    )
    await repository.add_job(session, job)
    await publish(
        session,
        JobCreated(
            job_id=job.id,
            client_id=client_id,
            work_type=job.work_type,
            fields=command.fields,
            rules=job.rules,
            match=command.match,
            qc=command.qc,
            priority=job.priority,
            due_at=job.due_at,
            sla_hours=job.sla_hours,
            external_ref=job.external_ref,
            created_at=now,
        ),
        client_id=client_id,
    )
    verify = command.qc.mode is QcMode.VERIFY
    checked = checked_items(job_spec(job), command.items, verify=verify)
    stored = await add_items(session, job, checked, key)
    await after_append(session, stored)
    return await describe_job(session, job)


async def _required_skills(session: AsyncSession, command: JobCreate) -> list[str]:
    """The skills the client asks for, and the work type's own when it requires a
    qualification (service.qualifications)."""
    asked = list(command.required_skills)
    if command.work_type in asked:
        return asked
    # Shared with other new jobs, against a qualification being put for the work type, whose
    # update of its jobs would not see this one.
    await advisory_lock(
        session, qualifications_repository.lock_name(command.work_type), shared=True
    )
    if not await qualifications_repository.requires(session, command.work_type):
        return asked
    return [*asked, command.work_type]


async def after_append(session: AsyncSession, stored: int) -> None:
    """After a large append, the task and item tables' statistics are brought up to date, so
    that the next claims are planned for the queue as it now is."""
    if stored < ANALYZE_MIN_ITEMS:
        return
    if statistics_outgrown(stored, await tasks_repository.known_task_count(session)):
        await tasks_repository.refresh_queue_statistics(session)


async def add_items(
    session: AsyncSession,
    job: Job,
    items: Sequence[ItemIn],
    key: DataKey,
    documents: Sequence[list[UUID]] | None = None,
) -> int:
    """Store items of an open job with their entry tasks, and announce them in events of up
    to ITEMS_PER_EVENT items. `documents`: each item's document ids, as resolved. Personal
    values of the source and the golden answer are stored sealed with the job's `key`."""
    now = utcnow()
    personal = job_spec(job).personal
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "job_id": job.id,
            "client_id": job.client_id,
            "external_id": item.external_id,
            "status": ItemStatus.PENDING,
            "source": personal.seal(item.source, key),
            "golden": item.golden and personal.seal(item.golden, key),
            "documents": documents[position] if documents else [],
            "result": None,
            "created_at": now,
            "completed_at": None,
        }
        for position, item in enumerate(items)
    ]
    await items_repository.add_items(session, rows)
    if documents and any(documents):
        await notify(session, WORK_CHANNEL)
    keyings = entries_per_item(QcPolicy.model_validate(job.qc))
    await tasks_repository.add_tasks(
        session,
        [new_task(job, row["id"], TaskKind.ENTRY, now) for row in rows for _ in range(keyings)],
    )
    events = [
        ItemsReceived(
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            items=[
                ReceivedItem(
                    item_id=row["id"], external_id=row["external_id"], golden=bool(row["golden"])
                )
                for row in chunk
            ],
            received_at=now,
        )
        for chunk in chunked(rows, ITEMS_PER_EVENT)
    ]
    await publish_many(session, events, client_id=job.client_id)
    return len(rows)


async def get_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job:
    job = await repository.get_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def describe_jobs(session: AsyncSession, jobs: Sequence[Job]) -> list[JobOut]:
    """Jobs as the API shows them, with item counts per status, progress and the accuracy an
    adaptive job delivered."""
    counts = await repository.item_counts(session, [job.id for job in jobs])
    delivered = await repository.accuracies(session, [job.id for job in jobs])
    return [
        JobOut.model_validate(
            {
                **{
                    column: getattr(job, column)
                    for column in JobOut.model_fields
                    if hasattr(job, column)
                },
                "counts": ItemCounts(
                    **{status.value: n for status, n in counts[job.id].items()},
                    total=sum(counts[job.id].values()),
                ),
                "progress": progress(counts[job.id]),
                "accuracy": _accuracy(delivered.get(job.id)),
            }
        )
        for job in jobs
    ]


def _accuracy(delivered: JobAccuracy | None) -> JobAccuracyOut | None:
    return JobAccuracyOut.model_validate(delivered, from_attributes=True) if delivered else None


async def describe_job(session: AsyncSession, job: Job) -> JobOut:
    (view,) = await describe_jobs(session, [job])
    return view


async def show_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobOut:
    return await describe_job(session, await get_job(session, job_id, scope))


async def list_jobs(
    session: AsyncSession, scope: UUID | None, page: PageRequest, flagged: bool | None = None
) -> Page[JobOut]:
    rows = await repository.list_jobs(session, scope, page, flagged)
    listed = make_page(rows, page, lambda job: job)
    return Page[JobOut](
        data=await describe_jobs(session, listed.data), next_cursor=listed.next_cursor
    )


async def close_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobOut:
    """No more items: the job completes as soon as every item is final."""
    job = await _job_for_update(session, job_id, scope)
    if job.status is not JobStatus.OPEN:
        raise Conflict(f"only an open job can be closed; this one is {job.status.value}")
    now = utcnow()
    job.status = JobStatus.CLOSED
    job.closed_at = now
    await publish(
        session,
        JobClosed(job_id=job.id, client_id=job.client_id, closed_at=now),
        client_id=job.client_id,
    )
    await complete_if_done(session, job)
    audit.summarize(session, before=JobStatus.OPEN, after=job.status)
    return await describe_job(session, job)


async def cancel_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobOut:
    """Stop the work: queued and leased tasks are withdrawn; finished items stay as they are."""
    job = await _job_for_update(session, job_id, scope)
    if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        raise Conflict(f"this job is already {job.status.value}")
    audit.summarize(session, before=job.status, after=JobStatus.CANCELLED)
    await cancel(session, job, await tasks_repository.withdraw_open_tasks(session, job.id))
    return await describe_job(session, job)


async def cancel(session: AsyncSession, job: Job, withdrawn: int) -> None:
    """The job (locked), its open tasks withdrawn (`withdrawn` of them), is cancelled."""
    now = utcnow()
    job.status = JobStatus.CANCELLED
    job.cancelled_at = now
    await publish(
        session,
        JobCancelled(
            job_id=job.id, client_id=job.client_id, tasks_withdrawn=withdrawn, cancelled_at=now
        ),
        client_id=job.client_id,
    )


async def complete_if_done(session: AsyncSession, job: Job) -> bool:
    """A closed job whose items are all final becomes completed, when its last item became
    final (its due time judges the work: not a later close, nor a decision read late; when
    none did, now); the client is told."""
    if job.status is not JobStatus.CLOSED or await repository.has_unfinished_items(session, job.id):
        return False
    now = await repository.last_final_at(session, job.id) or utcnow()
    counts = (await repository.item_counts(session, [job.id]))[job.id]
    completed, rejected = counts.get(ItemStatus.COMPLETED, 0), counts.get(ItemStatus.REJECTED, 0)
    job.status = JobStatus.COMPLETED
    job.completed_at = now
    await publish(
        session,
        JobCompleted(
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            due_at=job.due_at,
            items_completed=completed,
            items_rejected=rejected,
            completed_at=now,
        ),
        client_id=job.client_id,
    )
    await webhooks.enqueue(
        session,
        job.client_id,
        WebhookEvent.JOB_COMPLETED,
        {
            "job_id": job.id,
            "external_ref": job.external_ref,
            "items_completed": completed,
            "items_rejected": rejected,
            "completed_at": now,
        },
    )
    return True


async def _job_for_update(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job:
    job = await repository.get_job_for_update(session, job_id)
    if job is None or (scope is not None and job.client_id != scope):
        raise NotFound(f"no job {job_id}")
    return job
