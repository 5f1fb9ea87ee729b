"""Queries on tasks: the queue, leases, submissions.

Claiming and submitting are the hottest paths there are: each is one statement, atomic on
its own, sent straight to the driver (asyncpg's own parameters, $1...): one round trip, no
BEGIN and COMMIT around it, none of SQLAlchemy's per-statement work.
"""

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import QcPolicy, TaskKind
from bpo_common.db import copy_rows, driver_connection
from bpo_common.outbox import insert_for_each
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.tasks import QC_KINDS, QC_SKILL, HeldTask, TaskStatus
from bpo_intake.models import Task
from bpo_intake.repository.documents import ITEM_DOCUMENT_NAMES


async def add_tasks(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Task.__table__, rows)


async def known_task_count(session: AsyncSession) -> float:
    """How many tasks the planner's statistics say the table holds (0 before any analysis)."""
    count = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'task'::regclass")
    )
    return max(float(count or 0), 0.0)


async def refresh_queue_statistics(session: AsyncSession) -> None:
    """Let the planner know the queue's size now: after a large append to a table with a long
    history, autovacuum may wait a minute or never analyze, and claims would be planned for
    the queue as it was."""
    await session.execute(text("ANALYZE task"))


# Whether a task shows its item's machine pre-fill (SQL on `item`, `job` and the task, named
# by `task`): only the first keying of an item, and not where keyings must be independent
# (double keying) or check the client's own values (verify). A second keying in assisted
# mode is a person's own, without the machine's values.
SHOWS_SUGGESTIONS = """(
    {task}.kind = 'entry'
    AND job.qc->>'mode' NOT IN ('double', 'verify')
    AND NOT EXISTS (
        SELECT 1 FROM task earlier
        WHERE earlier.item_id = {task}.item_id AND earlier.kind = 'entry'
          AND earlier.id < {task}.id
    )
)"""


# How many queued tasks beyond twice those asked for a claim looks at, of each kind's first
# keyings and second keyings, so that a claim can prefer one role over the other.
ROUTING_WINDOW = 8
# How long a second keying waits for a doubted keyer at work before any keyer takes it in the
# queue's order again (the doubted keyers at work may be slow, or busy with other work).
REKEY_PATIENCE = timedelta(minutes=5)

# The queued tasks of one kind a contractor may claim (`mine`: the kind, the contractor's
# skills), walked in the queue's order (ix_task_queue: by kind, role, then that order);
# {rekey} picks first keyings (and reviews, adjudications) or second keyings. Two shapes keep
# the planner on that walk, which stops as soon as it has enough: the skills test names the
# common case (no skill required), whose share the table's statistics know, so the planner
# does not take most of the queue for unclaimable and sort it all instead; and whether the
# contractor holds or keyed the item is a scalar subquery, asked of each candidate on
# ix_task_item_id, which the planner cannot turn into a scan of the table's whole history.
_CLAIMABLE = """
        SELECT t.id, t.item_id, t.due_at, t.priority, t.rekey, t.job_id, t.created_at,
               t.required_skills
        FROM task t
        WHERE t.status = 'queued'
          AND t.kind = mine.kind
          AND t.rekey = {rekey}
          AND (t.required_skills = '[]' OR t.required_skills <@ mine.skills)
          AND (
              SELECT m.id FROM task m
              WHERE m.item_id = t.item_id AND (m.contractor_id = $1 OR m.submitted_by = $1)
              LIMIT 1
          ) IS NULL
          AND ($7::uuid IS NULL OR t.job_id = $7)
        ORDER BY t.due_at NULLS LAST, t.priority DESC, t.id
        LIMIT $3
        FOR UPDATE OF t SKIP LOCKED"""

_CLAIM = f"""
    WITH me AS (
        SELECT skills FROM contractor WHERE id = $1 AND status = 'active'
    ),
    -- Each kind asked for is walked on its own, so that a claim of reviews never steps over
    -- the queued first keyings; the kinds $10 need the qc skill $9 (domain.tasks.QC_KINDS),
    -- so a contractor without it walks none of them.
    mine AS (
        SELECT DISTINCT k.kind, me.skills FROM me, unnest($2::taskkind[]) AS k(kind)
        WHERE k.kind <> ALL($10::taskkind[]) OR me.skills ? $9
    ),
    firsts AS (SELECT c.* FROM mine, LATERAL ({_CLAIMABLE.format(rekey="false")}) c),
    seconds AS (SELECT c.* FROM mine, LATERAL ({_CLAIMABLE.format(rekey="true")}) c),
    locked AS (
        SELECT * FROM firsts UNION ALL SELECT * FROM seconds
    ),
    one_per_item AS (
        SELECT DISTINCT ON (item_id) id, item_id, due_at, priority, rekey, job_id, created_at,
               required_skills
        FROM locked
        ORDER BY item_id, due_at NULLS LAST, priority DESC, id
    ),
    chosen AS (
        SELECT o.id FROM one_per_item o
        JOIN job j ON j.id = o.job_id
        LEFT JOIN keyer_route r ON r.contractor_id = $1 AND r.work_type = j.work_type
        -- Within a deadline: a keyer adaptive QC doubts on the work type takes second keyings
        -- first; any other leaves a second keying to a doubted keyer at work (active, holding
        -- a lease) who may key it (has its skills, did not key the item), unless it was queued
        -- before $8; else the queue's order.
        ORDER BY o.due_at NULLS LAST,
                 CASE
                     WHEN coalesce(r.doubtful, false) THEN NOT o.rekey
                     WHEN o.rekey AND o.created_at > $8 THEN EXISTS (
                         SELECT 1 FROM keyer_route d
                         JOIN contractor c ON c.id = d.contractor_id AND c.status = 'active'
                         WHERE d.work_type = j.work_type AND d.doubtful
                           AND o.required_skills <@ c.skills
                           AND EXISTS (
                               SELECT 1 FROM task l
                               WHERE l.contractor_id = d.contractor_id AND l.status = 'leased'
                                 AND l.lease_expires_at > $5
                           )
                           AND NOT EXISTS (
                               SELECT 1 FROM task k
                               WHERE k.item_id = o.item_id AND k.submitted_by = d.contractor_id
                           )
                     )
                     ELSE false
                 END,
                 o.priority DESC, o.id
        LIMIT $4
    ),
    leased AS (
        UPDATE task
        SET status = 'leased', contractor_id = $1, lease_expires_at = $6,
            claimed_at = $5
        FROM chosen
        WHERE task.id = chosen.id
        RETURNING task.id, task.kind, task.job_id, task.item_id, task.entries, task.differing,
                  task.keyed_fields, task.lease_expires_at, task.due_at, task.priority
    ),
    started AS (
        UPDATE item SET status = 'in_progress'
        WHERE id IN (SELECT item_id FROM leased WHERE kind = 'entry') AND status = 'pending'
    )
    SELECT leased.id, leased.kind, leased.job_id, leased.item_id, leased.entries,
           leased.differing, leased.keyed_fields, leased.lease_expires_at, item.source,
           item.documents, job.work_type, job.fields, job.rules, job.match, job.instructions,
           job.data_key, job.qc->>'golden_rate' AS golden_rate,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="leased")} THEN item.suggestions END
               AS suggestions
    FROM leased
    JOIN item ON item.id = leased.item_id
    JOIN job ON job.id = leased.job_id
    ORDER BY leased.due_at NULLS LAST, leased.priority DESC, leased.id
    """  # noqa: S608 (a constant fragment)


async def claim_tasks(
    session: AsyncSession,
    contractor_id: UUID,
    kinds: Sequence[TaskKind],
    limit: int,
    now: datetime,
    lease_until: datetime,
    job_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Lease up to `limit` queued tasks to an active contractor in one statement.

    Earliest deadline first, then highest priority; only tasks whose required skills the
    contractor has (and of one job, if `job_id` is given); never a second task of an item the
    contractor holds or has keyed. Among the first `ROUTING_WINDOW` more tasks than asked
    for, of each kind's first keyings and second keyings, and within a deadline, a keyer adaptive
    QC doubts on the work type gets second keyings first, and every other keyer leaves a second
    keying to a doubted keyer at work on the work type who may key it (a second keying that has
    waited `REKEY_PATIENCE` goes in the queue's order again), so that the trusted key items
    first. A doubted keyer is at work while active and holding a lease that has not run out:
    one who stopped, keyed the item first or lacks its skills leaves its second keying to
    anyone. Rows other claimers have locked are skipped, so concurrent claims never wait on
    each other. Each row carries what the contractor needs to do the task (its
    job's fields, the source).
    """
    driver = await driver_connection(session)
    kind_names = [kind.value for kind in kinds]
    candidates = limit * 2 + ROUTING_WINDOW
    rows = await driver.fetch(
        _CLAIM,
        contractor_id,
        kind_names,
        candidates,
        limit,
        now,
        lease_until,
        job_id,
        now - REKEY_PATIENCE,
        QC_SKILL,
        [kind.value for kind in QC_KINDS],
    )
    return [dict(row) for row in rows]


# This read runs on the driver connection ahead of the transaction that changes the task. Only
# a constant fragment is put into the text.
_HELD_TASK = f"""
    SELECT task.id, task.kind, task.status, task.contractor_id, task.lease_expires_at,
           task.claimed_at, task.item_id, task.job_id, task.client_id,
           item.golden, item.source, item.layout_id, job.work_type, job.fields, job.rules,
           job.match, job.qc, job.data_key, task.keyed_fields, item.control_of,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="task")}
                     AND item.extracted_at <= task.claimed_at
                THEN item.suggestions END AS suggestions,
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
    session: AsyncSession, task_id: UUID, contractor_id: UUID, now: datetime
) -> bool:
    """Give a task its holder still holds back to the queue; False when the lease was lost."""
    connection = await session.connection()
    result = await connection.execute(
        update(_TASK)
        .where(_held(task_id, contractor_id, now))
        .values(status=TaskStatus.QUEUED, contractor_id=None, lease_expires_at=None)
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


async def withdraw_open_tasks(session: AsyncSession, job_id: UUID) -> int:
    """Cancel a job's queued and leased tasks; returns how many."""
    result = await session.execute(
        update(Task)
        .where(Task.job_id == job_id, Task.status.in_([TaskStatus.QUEUED, TaskStatus.LEASED]))
        .values(status=TaskStatus.CANCELLED, contractor_id=None, lease_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def latest_cancelled_task(session: AsyncSession, item_id: UUID) -> Task | None:
    """The item's task given up last (its lease expired too often), if any."""
    query = (
        select(Task)
        .where(Task.item_id == item_id, Task.status == TaskStatus.CANCELLED)
        .order_by(Task.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


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
