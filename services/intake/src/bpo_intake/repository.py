"""Every query of the intake service."""

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import TaskKind
from bpo_common.db import copy_rows, driver_connection
from bpo_common.pagination import PageRequest
from bpo_intake.models import (
    Client,
    Contractor,
    Item,
    ItemStatus,
    Job,
    Task,
    TaskStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)


async def add_client(session: AsyncSession, client: Client) -> None:
    session.add(client)
    await session.flush()


async def client_exists(session: AsyncSession, client_id: UUID) -> bool:
    return (await session.get(Client, client_id)) is not None


async def add_job(session: AsyncSession, job: Job) -> None:
    session.add(job)
    await session.flush()
    # Read back what was stored (times in UTC, NUMERIC at its scale) so the answer matches a GET.
    await session.refresh(job)


async def add_items(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Item.__table__, rows)


async def add_tasks(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Task.__table__, rows)


async def get_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    query = select(Job).where(Job.id == job_id)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def list_jobs(session: AsyncSession, scope: UUID | None, page: PageRequest) -> list[Job]:
    query = select(Job).order_by(Job.id).limit(page.limit + 1)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    if page.after is not None:
        query = query.where(Job.id > page.after)
    return list((await session.execute(query)).scalars())


async def item_counts(
    session: AsyncSession, job_ids: Sequence[UUID]
) -> dict[UUID, dict[ItemStatus, int]]:
    rows = await session.execute(
        select(Item.job_id, Item.status, func.count())
        .where(Item.job_id.in_(job_ids))
        .group_by(Item.job_id, Item.status)
    )
    counts: dict[UUID, dict[ItemStatus, int]] = {job_id: {} for job_id in job_ids}
    for job_id, status, count in rows:
        counts[job_id][status] = count
    return counts


# Contractors and tasks


async def add_contractor(session: AsyncSession, contractor: Contractor) -> None:
    session.add(contractor)
    await session.flush()


async def get_contractor(session: AsyncSession, contractor_id: UUID) -> Contractor | None:
    return await session.get(Contractor, contractor_id)


async def list_contractors(session: AsyncSession, page: PageRequest) -> list[Contractor]:
    query = select(Contractor).order_by(Contractor.id).limit(page.limit + 1)
    if page.after is not None:
        query = query.where(Contractor.id > page.after)
    return list((await session.execute(query)).scalars())


# asyncpg's own parameters ($1...): this statement runs on the driver connection.
_CLAIM = """
    WITH me AS (
        SELECT skills FROM contractor WHERE id = $1 AND status = 'active'
    ),
    mine AS (
        SELECT item_id FROM task WHERE contractor_id = $1 OR submitted_by = $1
    ),
    locked AS (
        SELECT t.id, t.item_id, t.due_at, t.priority
        FROM task t, me
        WHERE t.status = 'queued'
          AND t.kind = ANY($2::taskkind[])
          AND t.required_skills <@ me.skills
          AND t.item_id NOT IN (SELECT item_id FROM mine)
          AND ($7::uuid IS NULL OR t.job_id = $7)
        ORDER BY t.due_at NULLS LAST, t.priority DESC, t.id
        LIMIT $3
        FOR UPDATE OF t SKIP LOCKED
    ),
    one_per_item AS (
        SELECT DISTINCT ON (item_id) id, due_at, priority
        FROM locked
        ORDER BY item_id, due_at NULLS LAST, priority DESC, id
    ),
    chosen AS (
        SELECT id FROM one_per_item ORDER BY due_at NULLS LAST, priority DESC, id LIMIT $4
    ),
    leased AS (
        UPDATE task
        SET status = 'leased', contractor_id = $1, lease_expires_at = $6,
            claimed_at = $5
        FROM chosen
        WHERE task.id = chosen.id
        RETURNING task.id, task.kind, task.job_id, task.item_id, task.entries,
                  task.lease_expires_at, task.due_at, task.priority
    ),
    started AS (
        UPDATE item SET status = 'in_progress'
        WHERE id IN (SELECT item_id FROM leased WHERE kind = 'entry') AND status = 'pending'
    )
    SELECT leased.id, leased.kind, leased.job_id, leased.item_id, leased.entries,
           leased.lease_expires_at, item.source, job.work_type, job.fields, job.rules
    FROM leased
    JOIN item ON item.id = leased.item_id
    JOIN job ON job.id = leased.job_id
    ORDER BY leased.due_at NULLS LAST, leased.priority DESC, leased.id
    """


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
    contractor holds or has keyed. Rows
    other claimers have locked are skipped, so concurrent claims never wait on each other.
    Each row carries what the contractor needs to do the task (its job's fields, the source).
    The statement is atomic on its own, so it runs straight on the driver: one round trip,
    no BEGIN and COMMIT around it, none of SQLAlchemy's per-statement work (claiming is the
    hottest path there is).
    """
    driver = await driver_connection(session)
    kind_names = [kind.value for kind in kinds]
    rows = await driver.fetch(
        _CLAIM, contractor_id, kind_names, limit * 2, limit, now, lease_until, job_id
    )
    return [dict(row) for row in rows]


# The task table itself: lease updates skip the ORM's bookkeeping for entities.
_TASK = cast(Table, Task.__table__)

# asyncpg's own parameters: this read runs on the driver connection, ahead of the
# transaction that changes the task.
_HELD_TASK = """
    SELECT task.id, task.kind, task.status, task.contractor_id, task.lease_expires_at,
           task.claimed_at, task.item_id, task.job_id, task.client_id,
           item.golden, item.source, job.work_type, job.fields, job.rules, job.qc,
           contractor.status AS contractor_status, contractor.status_reason
    FROM task
    JOIN item ON item.id = task.item_id
    JOIN job ON job.id = task.job_id
    LEFT JOIN contractor ON contractor.id = $2
    WHERE task.id = $1
    """


async def held_task(
    session: AsyncSession, task_id: UUID, contractor_id: UUID
) -> dict[str, Any] | None:
    """A task with its item, job and the caller's standing, read without a lock: the lease
    step that follows changes the task only if the caller still holds it (see _HELD)."""
    driver = await driver_connection(session)
    row = await driver.fetchrow(_HELD_TASK, task_id, contractor_id)
    return None if row is None else dict(row)


def _held(task_id: UUID, contractor_id: UUID, now: datetime) -> Any:
    """The task, while `contractor_id` holds an unexpired lease on it."""
    return (
        (_TASK.c.id == task_id)
        & (_TASK.c.status == TaskStatus.LEASED)
        & (_TASK.c.contractor_id == contractor_id)
        & (_TASK.c.lease_expires_at > now)
    )


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


# The submission and the event announcing it in one statement, atomic on its own: the task
# changes only while the caller holds its lease, and the outbox row exists only if it did.
_SUBMIT = """
    WITH done AS (
        UPDATE task
        SET status = 'submitted', contractor_id = NULL, lease_expires_at = NULL,
            data = $4, submitted_by = $2, submitted_at = $3
        WHERE id = $1 AND status = 'leased' AND contractor_id = $2 AND lease_expires_at > $3
        RETURNING id
    )
    INSERT INTO outbox_event (id, subject, payload)
    SELECT $5, $6, $7 FROM done
    RETURNING id
    """


async def submit_task(
    session: AsyncSession,
    task_id: UUID,
    contractor_id: UUID,
    now: datetime,
    data: dict[str, Any],
    outbox_row: tuple[UUID, str, bytes],
) -> bool:
    """Record a submission and its outbox row; False when the lease was lost meanwhile."""
    driver = await driver_connection(session)
    stored = await driver.fetchval(
        _SUBMIT, task_id, contractor_id, now, json.dumps(data), *outbox_row
    )
    return stored is not None


async def extend_lease(
    session: AsyncSession, task_id: UUID, contractor_id: UUID, now: datetime, lease_until: datetime
) -> bool:
    connection = await session.connection()
    result = await connection.execute(
        update(_TASK).where(_held(task_id, contractor_id, now)).values(lease_expires_at=lease_until)
    )
    return bool(result.rowcount == 1)


async def lease_expired_tasks(session: AsyncSession, now: datetime, limit: int) -> list[Task]:
    query = (
        select(Task)
        .where(Task.status == TaskStatus.LEASED, Task.lease_expires_at < now)
        .order_by(Task.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).scalars())


async def jobs_by_id(session: AsyncSession, job_ids: Iterable[UUID]) -> dict[UUID, Job]:
    rows = await session.execute(select(Job).where(Job.id.in_(set(job_ids))))
    return {job.id: job for job in rows.scalars()}


async def flagged_items(session: AsyncSession, page: PageRequest) -> list[Item]:
    query = (
        select(Item).where(Item.flagged_reason.is_not(None)).order_by(Item.id).limit(page.limit + 1)
    )
    if page.after is not None:
        query = query.where(Item.id > page.after)
    return list((await session.execute(query)).scalars())


async def count_entry_tasks(session: AsyncSession, item_id: UUID) -> int:
    query = select(func.count()).where(
        Task.item_id == item_id,
        Task.kind == TaskKind.ENTRY,
        Task.status != TaskStatus.CANCELLED,
    )
    return int((await session.execute(query)).scalar_one())


async def get_item_for_update(session: AsyncSession, item_id: UUID) -> Item | None:
    query = select(Item).where(Item.id == item_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def withdraw_open_tasks(session: AsyncSession, job_id: UUID) -> int:
    result = await session.execute(
        update(Task)
        .where(Task.job_id == job_id, Task.status.in_([TaskStatus.QUEUED, TaskStatus.LEASED]))
        .values(status=TaskStatus.CANCELLED, contractor_id=None, lease_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def has_unfinished_items(session: AsyncSession, job_id: UUID) -> bool:
    """Whether an item of the job is not final yet (stops at the first one it finds)."""
    unfinished = select(Item.id).where(
        Item.job_id == job_id, Item.status.not_in([ItemStatus.COMPLETED, ItemStatus.REJECTED])
    )
    return bool((await session.execute(select(unfinished.exists()))).scalar_one())


async def get_job_for_update(session: AsyncSession, job_id: UUID) -> Job | None:
    query = select(Job).where(Job.id == job_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


# Webhooks


async def client_webhook_url(session: AsyncSession, client_id: UUID) -> str | None:
    return await session.scalar(select(Client.webhook_url).where(Client.id == client_id))


async def set_client_webhook_url(session: AsyncSession, client_id: UUID, url: str | None) -> bool:
    """Returns whether the client exists."""
    updated = await session.execute(
        update(Client).where(Client.id == client_id).values(webhook_url=url).returning(Client.id)
    )
    return updated.first() is not None


async def add_webhook_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    session.add(delivery)
    await session.flush()


@dataclass(frozen=True)
class DueDelivery:
    id: UUID
    # The client's current URL and secret; None when the client has removed its URL.
    url: str | None
    secret: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


async def claim_webhook_deliveries(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[DueDelivery]:
    """Take due pending deliveries for one send: their next_attempt_at moves to the lease end."""
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due), WebhookDelivery.client_id == Client.id)
        .values(next_attempt_at=lease_until)
        .returning(
            WebhookDelivery.id,
            Client.webhook_url,
            Client.webhook_secret,
            WebhookDelivery.payload,
            WebhookDelivery.attempts,
            WebhookDelivery.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    return [DueDelivery(*row) for row in rows]


async def record_webhook_attempt(
    session: AsyncSession,
    attempt: WebhookAttempt,
    *,
    status: WebhookDeliveryStatus,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
    last_error: str | None,
    url: str | None,
) -> None:
    """Store one try and what it means for its delivery; `url` is the one tried, if any."""
    session.add(attempt)
    changes: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "status": status,
        "next_attempt_at": next_attempt_at,
        "delivered_at": delivered_at,
        "last_error": last_error,
    }
    if url is not None:
        changes["url"] = url
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == attempt.delivery_id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )


async def list_webhook_deliveries(
    session: AsyncSession,
    scope: UUID | None,
    status: WebhookDeliveryStatus | None,
    page: PageRequest,
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id).limit(page.limit + 1)
    if scope is not None:
        query = query.where(WebhookDelivery.client_id == scope)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if page.after is not None:
        query = query.where(WebhookDelivery.id > page.after)
    return list((await session.execute(query)).scalars())


async def get_webhook_delivery(
    session: AsyncSession, delivery_id: UUID, scope: UUID | None
) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if scope is not None:
        query = query.where(WebhookDelivery.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def webhook_attempts(session: AsyncSession, delivery_id: UUID) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return list((await session.execute(query)).scalars())


# Items


async def lock_job_for_items(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    """The job, share-locked until the transaction ends: items may be added to it from
    several requests at once, but it cannot be closed or cancelled meanwhile."""
    query = select(Job).where(Job.id == job_id).with_for_update(read=True)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def list_items(
    session: AsyncSession, job_id: UUID, status: ItemStatus | None, page: PageRequest
) -> list[Item]:
    query = select(Item).where(Item.job_id == job_id).order_by(Item.id).limit(page.limit + 1)
    if status is not None:
        query = query.where(Item.status == status)
    if page.after is not None:
        query = query.where(Item.id > page.after)
    return list((await session.execute(query)).scalars())


async def completed_results(
    session: AsyncSession, job_id: UUID, batch_size: int
) -> AsyncIterator[Sequence[Row[UUID, str | None, dict[str, Any] | None, datetime | None]]]:
    """Id, external id, result and completion time of a job's completed items in id order,
    `batch_size` rows at a time from a server-side cursor."""
    result = await session.stream(
        select(Item.id, Item.external_id, Item.result, Item.completed_at)
        .where(Item.job_id == job_id, Item.status == ItemStatus.COMPLETED)
        .order_by(Item.id)
        .execution_options(yield_per=batch_size)
    )
    async for rows in result.partitions():
        yield rows
