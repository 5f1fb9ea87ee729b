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
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import TaskExpired, TaskSubmitted
from bpo_common.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from bpo_common.loops import stop_if_cancelled
from bpo_common.outbox import envelope_for, outbox_values, publish
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import check, spec_for
from bpo_common.service import Runtime
from bpo_intake import repository
from bpo_intake.models import (
    ContractorStatus,
    JobStatus,
    TaskStatus,
)
from bpo_intake.schemas import ClaimRequest, ItemOut, Submitted, TaskOut
from bpo_intake.service import entries_for_mode, task_row
from bpo_intake.settings import Settings

log = structlog.get_logger(__name__)


def _lease_lost() -> Conflict:
    return Conflict("this task is not leased to you; claim a new one")


def contractor_id_of(subject: str) -> UUID:
    try:
        return UUID(subject)
    except ValueError as exc:
        raise Forbidden("a contractor token's sub must be the contractor's id") from exc


async def _refuse_unless_active(session: AsyncSession, contractor_id: UUID) -> None:
    """Say why a contractor gets no work: unknown or suspended (slow path only)."""
    contractor = await repository.get_contractor(session, contractor_id)
    if contractor is None:
        raise Forbidden("this token's contractor is not registered; ask a manager")
    if contractor.status is ContractorStatus.SUSPENDED:
        raise Forbidden(f"this contractor is suspended: {contractor.status_reason}")


async def claim(
    session: AsyncSession,
    contractor_id: UUID,
    request: ClaimRequest,
    *,
    lease_seconds: int,
    now: datetime | None = None,
) -> list[TaskOut]:
    now = now or utcnow()
    rows = await repository.claim_tasks(
        session,
        contractor_id,
        request.kinds,
        request.limit,
        now,
        now + timedelta(seconds=lease_seconds),
        request.job_id,
    )
    if not rows:
        await _refuse_unless_active(session, contractor_id)
    return [TaskOut.model_validate(row) for row in rows]


async def heartbeat(
    session: AsyncSession,
    contractor_id: UUID,
    task_id: UUID,
    *,
    lease_seconds: int,
    now: datetime | None = None,
) -> datetime:
    now = now or utcnow()
    await _held_task(session, contractor_id, task_id, now)
    lease_until = now + timedelta(seconds=lease_seconds)
    if not await repository.extend_lease(session, task_id, contractor_id, now, lease_until):
        raise _lease_lost()
    return lease_until


async def release(
    session: AsyncSession, contractor_id: UUID, task_id: UUID, *, now: datetime | None = None
) -> None:
    now = now or utcnow()
    await _held_task(session, contractor_id, task_id, now)
    if not await repository.release_lease(session, task_id, contractor_id, now):
        raise _lease_lost()


async def submit(
    session: AsyncSession,
    contractor_id: UUID,
    task_id: UUID,
    data: Mapping[str, Any],
    *,
    reject: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Check the data against the job's rules (or take a reviewer's rejection), then record it
    and tell validation."""
    now = now or utcnow()
    task = await _held_task(session, contractor_id, task_id, now)
    kind = TaskKind(task["kind"])
    if reject is not None:
        if kind is TaskKind.ENTRY:
            raise Invalid(
                "only a review or adjudication can reject an item; key the data instead",
                errors=[FieldError(field="reject", message="not allowed on an entry task")],
            )
        normalized: dict[str, Any] = {}
    else:
        result = check(spec_for(task["job_id"], task["fields"], task["rules"]), data)
        if not result.valid:
            names = ", ".join(dict.fromkeys(error.field for error in result.errors))
            raise Invalid(f"the data breaks the job's rules: {names}", errors=result.errors)
        normalized = result.normalized
    envelope = envelope_for(
        session,
        TaskSubmitted(
            task_id=task_id,
            job_id=task["job_id"],
            item_id=task["item_id"],
            client_id=task["client_id"],
            work_type=task["work_type"],
            kind=kind.value,
            contractor_id=contractor_id,
            data=normalized,
            golden=task["golden"],
            entries_expected=await _entries_expected(session, task["qc"], kind, task["item_id"]),
            client_values=_client_values(task["qc"], task["fields"], task["source"]),
            rejection=reject,
            claimed_at=task["claimed_at"] or now,
            submitted_at=now,
        ),
        client_id=task["client_id"],
    )
    stored = await repository.submit_task(
        session, task_id, contractor_id, now, normalized, outbox_values(envelope)
    )
    if not stored:
        raise _lease_lost()
    return Submitted(task_id=task_id, item_id=task["item_id"], data=normalized, submitted_at=now)


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
            stop_if_cancelled()
            log.warning("lease sweep failed", error=repr(exc))
            swept = 0
        if swept == 0:
            await asyncio.sleep(settings.sweep_interval_s)


async def flagged_items(session: AsyncSession, page: PageRequest) -> Page[ItemOut]:
    rows = await repository.flagged_items(session, page)
    return make_page(rows, page, lambda item: ItemOut.model_validate(item, from_attributes=True))


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
    await repository.add_tasks(session, [task_row(job, item.id, TaskKind.ENTRY, utcnow())])
    return ItemOut.model_validate(item, from_attributes=True)


async def _held_task(
    session: AsyncSession, contractor_id: UUID, task_id: UUID, now: datetime
) -> dict[str, Any]:
    task = await repository.held_task(session, task_id, contractor_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task["contractor_status"] != ContractorStatus.ACTIVE.value:
        await _refuse_unless_active(session, contractor_id)
    if task["status"] != TaskStatus.LEASED.value or task["contractor_id"] != contractor_id:
        raise _lease_lost()
    if task["lease_expires_at"] <= now:
        raise Conflict("the lease on this task has expired; claim a new one")
    return task


async def _entries_expected(
    session: AsyncSession, qc: Mapping[str, Any], kind: TaskKind, item_id: UUID
) -> int:
    if kind is not TaskKind.ENTRY:
        return 1
    if qc.get("mode") == "adaptive":
        # One keying, or two once validation asked for a second.
        return await repository.count_entry_tasks(session, item_id)
    return entries_for_mode(qc)


def _client_values(
    qc: Mapping[str, Any], fields: list[dict[str, Any]], source: dict[str, Any]
) -> dict[str, Any] | None:
    """In a verify job the item's source carries the client's values for the job's fields."""
    if qc.get("mode") != "verify":
        return None
    names = {field["name"] for field in fields}
    return {name: value for name, value in source.items() if name in names}
