"""Work distribution: contractors claim tasks under a lease, key them, submit or release them.

Leases expire; the sweeper gives expired tasks back to the queue and, after too many
attempts, flags the item for a manager instead.
"""

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import TaskExpired, TaskSubmitted
from bpo_common.errors import Conflict, Forbidden, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_common.outbox import publish
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import check
from bpo_common.service import Runtime
from bpo_intake import repository
from bpo_intake.models import (
    Contractor,
    ContractorStatus,
    Job,
    JobStatus,
    Task,
    TaskKind,
    TaskStatus,
)
from bpo_intake.schemas import ClaimRequest, ItemOut, Submitted, TaskOut
from bpo_intake.service import entries_per_item, job_spec
from bpo_intake.settings import Settings

log = structlog.get_logger(__name__)


async def active_contractor(session: AsyncSession, subject: str) -> Contractor:
    """The contractor a token speaks for; suspended contractors get no work."""
    try:
        contractor_id = UUID(subject)
    except ValueError as exc:
        raise Forbidden("a contractor token's sub must be the contractor's id") from exc
    contractor = await repository.get_contractor(session, contractor_id)
    if contractor is None:
        raise Forbidden("this token's contractor is not registered; ask a manager")
    if contractor.status is ContractorStatus.SUSPENDED:
        raise Forbidden(f"this contractor is suspended: {contractor.status_reason}")
    return contractor


async def claim(
    session: AsyncSession,
    contractor: Contractor,
    request: ClaimRequest,
    *,
    lease_seconds: int,
    now: datetime | None = None,
) -> list[TaskOut]:
    now = now or utcnow()
    tasks = await repository.claim_tasks(
        session,
        contractor.id,
        contractor.skills,
        request.kinds,
        request.limit,
        now,
        now + timedelta(seconds=lease_seconds),
    )
    if not tasks:
        return []
    jobs = await repository.jobs_by_id(session, (task.job_id for task in tasks))
    items = await repository.items_by_id(session, (task.item_id for task in tasks))
    return [
        TaskOut(
            id=task.id,
            kind=task.kind,
            job_id=task.job_id,
            item_id=task.item_id,
            work_type=jobs[task.job_id].work_type,
            fields=jobs[task.job_id].fields,
            rules=jobs[task.job_id].rules,
            source=items[task.item_id].source,
            entries=task.entries,
            lease_expires_at=_lease_of(task),
        )
        for task in tasks
    ]


async def heartbeat(
    session: AsyncSession,
    contractor: Contractor,
    task_id: UUID,
    *,
    lease_seconds: int,
    now: datetime | None = None,
) -> datetime:
    now = now or utcnow()
    task = await _held_task(session, contractor, task_id, now)
    task.lease_expires_at = now + timedelta(seconds=lease_seconds)
    return task.lease_expires_at


async def release(
    session: AsyncSession, contractor: Contractor, task_id: UUID, *, now: datetime | None = None
) -> None:
    task = await _held_task(session, contractor, task_id, now or utcnow())
    task.status = TaskStatus.QUEUED
    task.contractor_id = None
    task.lease_expires_at = None


async def submit(
    session: AsyncSession,
    contractor: Contractor,
    task_id: UUID,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Submitted:
    """Check the data against the job's rules, then record it and tell validation."""
    now = now or utcnow()
    task = await _held_task(session, contractor, task_id, now)
    job = (await repository.jobs_by_id(session, [task.job_id]))[task.job_id]
    result = check(job_spec(job), data)
    if not result.valid:
        names = ", ".join(dict.fromkeys(error.field for error in result.errors))
        raise Invalid(f"the data breaks the job's rules: {names}", errors=result.errors)
    item = (await repository.items_by_id(session, [task.item_id]))[task.item_id]
    task.status = TaskStatus.SUBMITTED
    task.data = result.normalized
    task.submitted_by = contractor.id
    task.submitted_at = now
    task.contractor_id = None
    task.lease_expires_at = None
    await publish(
        session,
        TaskSubmitted(
            task_id=task.id,
            job_id=task.job_id,
            item_id=task.item_id,
            client_id=task.client_id,
            work_type=job.work_type,
            kind=task.kind.value,
            contractor_id=contractor.id,
            data=result.normalized,
            golden=item.golden,
            entries_expected=await _entries_expected(session, job, task),
            client_values=_client_values(job, item.source),
            claimed_at=task.claimed_at or now,
            submitted_at=now,
        ),
        client_id=task.client_id,
    )
    return Submitted(
        task_id=task.id, item_id=task.item_id, data=result.normalized, submitted_at=now
    )


async def sweep_expired_leases(
    session: AsyncSession, *, max_attempts: int, now: datetime | None = None, limit: int = 500
) -> int:
    """Give expired tasks back to the queue; flag the item once a task has expired too often."""
    now = now or utcnow()
    expired = await repository.lease_expired_tasks(session, now, limit)
    for task in expired:
        holder = task.contractor_id
        task.attempts += 1
        requeued = task.attempts < max_attempts
        task.contractor_id = None
        task.lease_expires_at = None
        if requeued:
            task.status = TaskStatus.QUEUED
        else:
            task.status = TaskStatus.CANCELLED
            item = await repository.get_item_for_update(session, task.item_id)
            assert item is not None
            item.flagged_reason = (
                f"its {task.kind.value} task's lease expired {task.attempts} times"
            )
        assert holder is not None
        await publish(
            session,
            TaskExpired(
                task_id=task.id,
                job_id=task.job_id,
                item_id=task.item_id,
                client_id=task.client_id,
                contractor_id=holder,
                attempts=task.attempts,
                requeued=requeued,
                expired_at=now,
            ),
            client_id=task.client_id,
        )
    return len(expired)


async def sweep_leases(runtime: Runtime) -> None:
    """Background loop of the intake service: sweep expired leases every few seconds."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    while True:
        try:
            async with runtime.sessions() as session, session.begin():
                swept = await sweep_expired_leases(session, max_attempts=settings.max_attempts)
        except Exception as exc:  # a database hiccup must not end the sweeper
            log.warning("lease sweep failed", error=repr(exc))
            swept = 0
        if swept == 0:
            await asyncio.sleep(settings.sweep_interval_s)


async def flagged_items(session: AsyncSession, page: PageRequest) -> Page[ItemOut]:
    listed = make_page(await repository.flagged_items(session, page), page, lambda item: item.id)
    return Page[ItemOut](
        data=[ItemOut.model_validate(item, from_attributes=True) for item in listed.data],
        next_cursor=listed.next_cursor,
    )


async def requeue_item(session: AsyncSession, item_id: UUID) -> ItemOut:
    """A manager gives a flagged item a fresh entry task and clears the flag."""
    item = await repository.get_item_for_update(session, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    if item.flagged_reason is None:
        raise Conflict("this item is not flagged; it is still in the normal flow")
    job = (await repository.jobs_by_id(session, [item.job_id]))[item.job_id]
    if job.status is JobStatus.CANCELLED:
        raise Conflict("the item's job is cancelled")
    item.flagged_reason = None
    await repository.add_tasks(
        session,
        [
            {
                "id": new_id(),
                "job_id": job.id,
                "item_id": item.id,
                "client_id": job.client_id,
                "kind": TaskKind.ENTRY,
                "status": TaskStatus.QUEUED,
                "required_skills": job.required_skills,
                "priority": job.priority,
                "due_at": job.due_at,
                "attempts": 0,
                "created_at": utcnow(),
            }
        ],
    )
    return ItemOut.model_validate(item, from_attributes=True)


async def _held_task(
    session: AsyncSession, contractor: Contractor, task_id: UUID, now: datetime
) -> Task:
    task = await repository.get_task_for_update(session, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.status is not TaskStatus.LEASED or task.contractor_id != contractor.id:
        raise Conflict("this task is not leased to you; claim a new one")
    if _lease_of(task) <= now:
        raise Conflict("the lease on this task has expired; claim a new one")
    return task


async def _entries_expected(session: AsyncSession, job: Job, task: Task) -> int:
    if task.kind is not TaskKind.ENTRY:
        return 1
    if job.qc.get("mode") == "adaptive":
        # One keying, or two once validation asked for a second.
        return await repository.count_entry_tasks(session, task.item_id)
    return entries_per_item(job)


def _client_values(job: Job, source: dict[str, Any]) -> dict[str, Any] | None:
    """In a verify job the item's source carries the client's values for the job's fields."""
    if job.qc.get("mode") != "verify":
        return None
    names = {field["name"] for field in job.fields}
    return {name: value for name, value in source.items() if name in names}


def _lease_of(task: Task) -> datetime:
    assert task.lease_expires_at is not None
    return task.lease_expires_at
