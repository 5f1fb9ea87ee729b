"""Queries on tasks: the queue, leases, submissions.

Claiming (repository.claims) and submitting are the hottest paths there are: each is one
statement, atomic on its own, sent straight to the driver (asyncpg's own parameters, $1...):
one round trip, no BEGIN and COMMIT around it, none of SQLAlchemy's per-statement work.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import QcPolicy, TaskKind
from bpo_common.db import among, copy_rows, driver_connection
from bpo_common.outbox import insert_for_each
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.tasks import HeldTask, TaskStatus
from bpo_intake.models import Task
from bpo_intake.repository.documents import ITEM_DOCUMENT_NAMES


async def add_tasks(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Task.__table__, rows)


async def adjudications_among(session: AsyncSession, task_ids: Sequence[UUID]) -> set[UUID]:
    """Those of the tasks that are adjudications."""
    query = select(Task.id).where(among(Task.id, task_ids), Task.kind == TaskKind.ADJUDICATION)
    return set(await session.scalars(query))


async def known_task_count(session: AsyncSession) -> float:
    """How many tasks the planner's statistics say the table holds (0 before any analysis)."""
    count = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'task'::regclass")
    )
    return max(float(count or 0), 0.0)


async def refresh_queue_statistics(session: AsyncSession) -> None:
    """Let the planner know the queue's size now: after a large append to a table with a long
    history, autovacuum may wait a minute or never analyze, and claims would be planned for
    the queue and its items as they were (a claim's plan, kept for the connection, is made
    again once they are analyzed)."""
    await session.execute(text("ANALYZE task, item"))


# Whether a task shows its item's machine pre-fill (SQL on `item`, `job` and the task, named
# by `task`): only the first keying of an item, and not where keyings must be independent
# (double keying) or check the client's own values (verify). A second keying in assisted
# mode is a person's own, without the machine's values. An entry task cancelled before it
# was keyed (given up on and made afresh by a requeue, withdrawn) was no keying: the task
# after it is still the first. Only suggestions made before the task was claimed, so that the
# claim, a claim sent again and the submit agree: none on a task claimed before its item was
# read, nor on one claimed while extraction is to read it again (its layout learned more:
# extracted_at is cleared, and the old suggestions stay until new ones replace them).
SHOWS_SUGGESTIONS = """(
    {task}.kind = 'entry'
    AND job.qc->>'mode' NOT IN ('double', 'verify')
    AND item.extracted_at <= {task}.claimed_at
    AND NOT EXISTS (
        SELECT 1 FROM task earlier
        WHERE earlier.item_id = {task}.item_id AND earlier.kind = 'entry'
          AND earlier.id < {task}.id AND earlier.status <> 'cancelled'
    )
)"""


# This read runs on the driver connection ahead of the transaction that changes the task. Only
# a constant fragment is put into the text.
_HELD_TASK = f"""
    SELECT task.id, task.kind, task.status, task.contractor_id, task.lease_expires_at,
           task.claimed_at, task.item_id, task.job_id, task.client_id,
           item.golden, item.source, item.layout_id, job.work_type, job.fields, job.rules,
           job.match, job.qc, job.data_key, task.keyed_fields, item.control_of, item.attempt_id,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="task")} THEN item.suggestions END
               AS suggestions,
           {ITEM_DOCUMENT_NAMES} AS documents,
           contractor.status AS contractor_status, contractor.status_reason
    FROM task
    JOIN item ON item.id = task.item_id
    JOIN job ON job.id = task.job_id
    LEFT JOIN contractor ON contractor.id = $2
    WHERE task.id = $1
    """  # noqa: S608


async def held_task(session: AsyncSession, task_id: UUID, contractor_id: UUID) -> HeldTask | None:
    """A task with its item, job and the caller's standing, read without a lock: the lease
    step that follows changes the task only if the caller still holds it (see _held)."""
    driver = await driver_connection(session)
    row = await driver.fetchrow(_HELD_TASK, task_id, contractor_id)
    if row is None:
        return None
    standing = row["contractor_status"]
    typed = {
        "kind": TaskKind(row["kind"]),
        "status": TaskStatus(row["status"]),
        "qc": QcPolicy.model_validate(row["qc"]),
        "contractor_status": None if standing is None else ContractorStatus(standing),
    }
    return HeldTask(**{**row, **typed})


# The task table itself: lease updates skip the ORM's bookkeeping for entities.
_TASK = cast(Table, Task.__table__)


def _held(task_id: UUID, contractor_id: UUID, now: datetime) -> Any:
    """The task, while `contractor_id` holds an unexpired lease on it."""
    return (
        (_TASK.c.id == task_id)
        & (_TASK.c.status == TaskStatus.LEASED)
        & (_TASK.c.contractor_id == contractor_id)
        & (_TASK.c.lease_expires_at > now)
    )


async def extend_lease(
    session: AsyncSession, task_id: UUID, contractor_id: UUID, now: datetime, lease_until: datetime
) -> bool:
    """Move a held lease's end to `lease_until`; False when the lease was lost."""
    connection = await session.connection()
    result = await connection.execute(
        update(_TASK).where(_held(task_id, contractor_id, now)).values(lease_expires_at=lease_until)
    )
    return bool(result.rowcount == 1)


async def release_lease(
    session: AsyncSession, task_id: UUID, contractor_id: UUID, now: datetime, *, withdrawn: bool
) -> bool:
    """Give a task its holder still holds back to the queue (or withdraw it); False when the
    lease was lost."""
    status = TaskStatus.CANCELLED if withdrawn else TaskStatus.QUEUED
    connection = await session.connection()
    result = await connection.execute(
        update(_TASK)
        .where(_held(task_id, contractor_id, now))
        .values(status=status, contractor_id=None, lease_expires_at=None)
    )
    return bool(result.rowcount == 1)


# The submission and the event announcing it in one statement: the task changes only while
# the caller holds its lease, and the outbox row exists only if it did. Only a table name
# and parameter numbers are put into the text; the values travel as parameters.
_SUBMIT = f"""
    WITH done AS (
        UPDATE task
        SET status = 'submitted', contractor_id = NULL, lease_expires_at = NULL,
            data = $4, submitted_by = $2, submitted_at = $3, active_seconds = $5
        WHERE id = $1 AND status = 'leased' AND contractor_id = $2 AND lease_expires_at > $3
        RETURNING id
    )
    {insert_for_each("done", 6)}
    RETURNING id
    """  # noqa: S608


async def submit_task(
    session: AsyncSession,
    task_id: UUID,
    contractor_id: UUID,
    now: datetime,
    data: dict[str, Any],
    active_seconds: float | None,
    outbox_row: tuple[UUID, str, bytes],
) -> bool:
    """Record a submission and its outbox row; False when the lease was lost meanwhile."""
    driver = await driver_connection(session)
    stored = await driver.fetchval(
        _SUBMIT, task_id, contractor_id, now, json.dumps(data), active_seconds, *outbox_row
    )
    return stored is not None


async def leases_of(session: AsyncSession, contractor_id: UUID) -> list[Task]:
    """The tasks the contractor holds, locked."""
    query = (
        select(Task)
        .where(Task.contractor_id == contractor_id, Task.status == TaskStatus.LEASED)
        .order_by(Task.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def lease_expired_tasks(session: AsyncSession, now: datetime, limit: int) -> list[Task]:
    query = (
        select(Task)
        .where(Task.status == TaskStatus.LEASED, Task.lease_expires_at < now)
        .order_by(Task.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).scalars())


async def count_entry_tasks(session: AsyncSession, item_id: UUID) -> int:
    query = select(func.count()).where(
        Task.item_id == item_id,
        Task.kind == TaskKind.ENTRY,
        Task.status != TaskStatus.CANCELLED,
    )
    return int((await session.execute(query)).scalar_one())


async def withdraw_open_tasks(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None = None
) -> int:
    """Cancel a job's queued and leased tasks (of these items only, if given); returns how
    many."""
    of = Task.job_id == job_id if item_ids is None else among(Task.item_id, item_ids)
    result = await session.execute(
        update(Task)
        .where(of, Task.status.in_([TaskStatus.QUEUED, TaskStatus.LEASED]))
        .values(status=TaskStatus.CANCELLED, contractor_id=None, lease_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def given_up_tasks(session: AsyncSession, item_id: UUID) -> list[Task]:
    """The tasks of a flagged item of a live job that the lease sweep gave up on and no requeue
    has made afresh yet, locked: its cancelled ones, whatever BPO_INTAKE_MAX_ATTEMPTS was then
    or is now. A task is cancelled otherwise only as its job is cancelled, its item erased
    (which ends the item and clears its flag) or a control copy's withdrawn (never flagged)."""
    query = (
        select(Task)
        .where(
            Task.item_id == item_id,
            Task.status == TaskStatus.CANCELLED,
            Task.requeued_at.is_(None),
        )
        .order_by(Task.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def has_open_task(session: AsyncSession, item_id: UUID) -> bool:
    """Whether a task of the item is queued or leased."""
    open_task = select(Task.id).where(
        Task.item_id == item_id, Task.status.in_([TaskStatus.QUEUED, TaskStatus.LEASED])
    )
    return bool((await session.execute(select(open_task.exists()))).scalar_one())


# Queued tasks, waiting since before $1, of unflagged items, that no active contractor may
# claim: none has the skills, or each who has them holds or has keyed the item.
_UNCLAIMABLE = """
    SELECT DISTINCT ON (t.item_id) t.item_id, t.kind
    FROM task t
    JOIN item i ON i.id = t.item_id
    WHERE t.status = 'queued' AND t.created_at < $1 AND i.flagged_reason IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM contractor c
          WHERE c.status = 'active' AND t.required_skills <@ c.skills
            AND NOT EXISTS (
                SELECT 1 FROM task m
                WHERE m.item_id = t.item_id AND (m.contractor_id = c.id OR m.submitted_by = c.id)
            )
      )
    ORDER BY t.item_id, t.created_at
    LIMIT $2
    """


async def unclaimable_tasks(
    session: AsyncSession, queued_before: datetime, limit: int
) -> list[tuple[UUID, TaskKind]]:
    """(item, task kind) of items with a task nobody may claim, queued since before then."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_UNCLAIMABLE, queued_before, limit)
    return [(row["item_id"], TaskKind(row["kind"])) for row in rows]
