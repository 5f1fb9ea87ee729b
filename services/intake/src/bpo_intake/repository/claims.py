"""The claim: the queued tasks a contractor may take, leased in one statement sent straight
to the driver (see repository.tasks)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any
from uuid import UUID

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bpo_common.contracts import TaskKind
from bpo_common.db import advisory_lock, driver_connection
from bpo_common.idempotency import RequestKey
from bpo_intake.domain.tasks import QC_KINDS, QC_SKILL, TaskStatus
from bpo_intake.models import Task
from bpo_intake.repository import claim_keys
from bpo_intake.repository.claim_keys import KeptClaim
from bpo_intake.repository.tasks import SHOWS_SUGGESTIONS

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
          {of_job}
        ORDER BY t.due_at NULLS LAST, t.priority DESC, t.id
        LIMIT {candidates}
        FOR UPDATE OF t SKIP LOCKED"""
# Every kind of task, as rows: PostgreSQL's estimate of a parameter array's length is a guess.
# (A kind added to the vocabulary needs intake's taskkind type to know it first, or every claim
# fails.)
_KINDS = ", ".join(f"('{kind.value}'::taskkind)" for kind in TaskKind)
_QC_KINDS = [kind.value for kind in QC_KINDS]


@lru_cache(maxsize=128)
def _claim_statement(limit: int, of_job: bool) -> str:
    """The claim of `limit` tasks (of the job $8 only, if `of_job`): its limits in its text, a
    claim of any job's tasks naming none, so that PostgreSQL plans it once for a connection
    and keeps the plan. With the limits and the job as parameters it planned the statement
    again at every claim (its plan for values it cannot see costed more than one for those
    it can): 1.6 to 2.2 ms of PostgreSQL's time a claim behind 100,000 queued tasks, against
    0.55 ms with the plan kept."""
    walk = partial(
        _CLAIMABLE.format,
        candidates=limit * 2 + ROUTING_WINDOW,
        of_job="AND t.job_id = $8" if of_job else "",
    )
    return f"""
    WITH me AS (
        SELECT skills FROM contractor WHERE id = $1 AND status = 'active'
    ),
    -- Each kind asked for is walked on its own, so that a claim of reviews never steps over
    -- the queued first keyings; the kinds $7 need the qc skill $6 (domain.tasks.QC_KINDS),
    -- so a contractor without it walks none of them.
    mine AS (
        SELECT k.kind, me.skills FROM me, (VALUES {_KINDS}) AS k(kind)
        WHERE k.kind = ANY($2::taskkind[]) AND (k.kind <> ALL($7::taskkind[]) OR me.skills ? $6)
    ),
    firsts AS (SELECT c.* FROM mine, LATERAL ({walk(rekey="false")}) c),
    seconds AS (SELECT c.* FROM mine, LATERAL ({walk(rekey="true")}) c),
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
        -- before $5; else the queue's order.
        ORDER BY o.due_at NULLS LAST,
                 CASE
                     WHEN coalesce(r.doubtful, false) THEN NOT o.rekey
                     WHEN o.rekey AND o.created_at > $5 THEN EXISTS (
                         SELECT 1 FROM keyer_route d
                         JOIN contractor c ON c.id = d.contractor_id AND c.status = 'active'
                         WHERE d.work_type = j.work_type AND d.doubtful
                           AND o.required_skills <@ c.skills
                           AND EXISTS (
                               SELECT 1 FROM task l
                               WHERE l.contractor_id = d.contractor_id AND l.status = 'leased'
                                 AND l.lease_expires_at > $3
                           )
                           AND NOT EXISTS (
                               SELECT 1 FROM task k
                               WHERE k.item_id = o.item_id AND k.submitted_by = d.contractor_id
                           )
                     )
                     ELSE false
                 END,
                 o.priority DESC, o.id
        LIMIT {limit}
    ),
    leased AS (
        UPDATE task
        SET status = 'leased', contractor_id = $1, lease_expires_at = $4,
            claimed_at = $3
        FROM chosen
        WHERE task.id = chosen.id
        RETURNING task.id, task.kind, task.job_id, task.item_id, task.entries, task.differing,
                  task.reason, task.keyed_fields, task.lease_expires_at, task.due_at,
                  task.priority, task.claimed_at
    ),
    -- An entry task leased starts its item. A flag of the item goes, unless a task of it was
    -- given up (its leases kept expiring: a manager's requeue makes it afresh): the work it
    -- said nobody may take is taken. A claim that gives the task up at once (a control in its
    -- place, or the claim failing) puts both back (put_item_back).
    started AS (
        UPDATE item
        SET status = CASE WHEN leased.kind = 'entry' AND item.status = 'pending'
                          THEN 'in_progress' ELSE item.status END,
            flagged_reason = CASE
                WHEN item.flagged_reason IS NULL THEN NULL
                WHEN EXISTS (
                    SELECT 1 FROM task g
                    WHERE g.item_id = item.id AND g.status = 'cancelled'
                      AND g.requeued_at IS NULL
                ) THEN item.flagged_reason
            END
        FROM leased
        WHERE item.id = leased.item_id
          AND (leased.kind = 'entry' AND item.status = 'pending' OR item.flagged_reason IS NOT NULL)
    )
    -- The item is read as the statement began, before `started`: whether it started it, and
    -- the flag it cleared, to be put back if the claim gives the task up at once
    -- (put_item_back).
    SELECT leased.id, leased.kind, leased.job_id, leased.item_id, leased.entries,
           leased.differing, leased.reason, leased.keyed_fields, leased.lease_expires_at,
           leased.kind = 'entry' AND item.status = 'pending' AS item_was_pending,
           CASE WHEN item.flagged_reason IS NULL THEN NULL
                WHEN EXISTS (
                    SELECT 1 FROM task g
                    WHERE g.item_id = item.id AND g.status = 'cancelled'
                      AND g.requeued_at IS NULL
                ) THEN NULL
                ELSE item.flagged_reason
           END AS item_flagged_reason,
           item.source,
           item.documents, job.work_type, job.fields, job.rules, job.match, job.instructions,
           job.data_key, job.qc->>'golden_rate' AS golden_rate,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="leased")} THEN item.suggestions END
               AS suggestions
    FROM leased
    JOIN item ON item.id = leased.item_id
    JOIN job ON job.id = leased.job_id
    ORDER BY leased.due_at NULLS LAST, leased.priority DESC, leased.id
    """  # noqa: S608 (constant fragments and integers)


@dataclass(frozen=True)
class ItemBefore:
    """What the claim's statement changed of a leased task's item: whether it started it, and
    the flag it cleared."""

    item_id: UUID
    pending: bool  # the task is an entry task of a pending item: the statement started it
    flagged_reason: str | None  # the flag it cleared (one kept for a given-up task: None)


@dataclass(frozen=True)
class Leased:
    """What a claim's statement leased, and the items it changed as they were before, by task;
    or, for a claim sent again with its key, the claim kept under the key, and nothing leased."""

    rows: list[dict[str, Any]]
    kept: KeptClaim | None = None
    items_before: dict[UUID, ItemBefore] = field(default_factory=dict)


async def claim_tasks(
    session: AsyncSession,
    contractor_id: UUID,
    kinds: Sequence[TaskKind],
    limit: int,
    now: datetime,
    lease_until: datetime,
    job_id: UUID | None = None,
    key: RequestKey | None = None,
) -> Leased:
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
    each other. An item flagged for a task nobody may take is no longer flagged once one of
    its tasks is leased. Each row carries what the contractor needs to do the task (its
    job's fields, the source). It runs in a short transaction of its own, the claim's first,
    so the rows it looks at stay locked no longer than it runs (concurrent claims skip them);
    the claim gives the leases back (`give_back`) if what follows it fails, and their items
    as they were (`items_before`, by task: those the statement started or unflagged). One
    contractor's claims run one at a time (a lock of theirs, taken in that transaction before
    the statement): the statement asks whether the contractor holds an item's other task as of
    its start, so two at once could each lease one keying of the same item. With a `key`
    (the claim's Idempotency-Key), a claim kept under it is looked up under that lock, and
    leases nothing; else the leases are kept under the key with them, pending until the
    claim's answer commits: a claim sent again, even while this one runs, finds them.
    """
    driver = await driver_connection(session)
    assert not driver.is_in_transaction(), "a claim's statement is the first of its session"
    async with driver.transaction():
        await driver.execute(_CLAIMER_LOCK, _claims_of(contractor_id))
        kept = None if key is None else await claim_keys.kept(driver, contractor_id, key, now)
        if kept is not None:
            return Leased([], kept)
        rows = await driver.fetch(
            _claim_statement(limit, job_id is not None),
            contractor_id,
            [kind.value for kind in kinds],
            now,
            lease_until,
            now - REKEY_PATIENCE,
            QC_SKILL,
            _QC_KINDS,
            *([job_id] if job_id is not None else []),
        )
        if key is not None:
            await claim_keys.keep(driver, contractor_id, key, [row["id"] for row in rows], now)
    leased = [dict(row) for row in rows]
    before: dict[UUID, ItemBefore] = {}
    for row in leased:
        item = ItemBefore(
            row["item_id"], row.pop("item_was_pending"), row.pop("item_flagged_reason")
        )
        if item.pending or item.flagged_reason is not None:
            before[row["id"]] = item
    return Leased(leased, items_before=before)


async def kept_once_free(
    session: AsyncSession, contractor_id: UUID, key: RequestKey, now: datetime
) -> KeptClaim | None:
    """The claim kept under the contractor's key, read once their claim under way lets go of
    their claims lock, in a short transaction of its own that takes that lock (as a claim's
    statement does: the session's first)."""
    driver = await driver_connection(session)
    assert not driver.is_in_transaction(), "a claim's statement is the first of its session"
    async with driver.transaction():
        await driver.execute(_CLAIMER_LOCK, _claims_of(contractor_id))
        return await claim_keys.kept(driver, contractor_id, key, now)


# A contractor's claims, one at a time (bpo_common.db.advisory_lock's key).
_CLAIMER_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


def _claims_of(contractor_id: UUID) -> str:
    """The name of the lock a contractor's claims take (bpo_common.db.advisory_lock's)."""
    return f"claim:{contractor_id}"


async def wait_for_claims(session: AsyncSession, contractor_id: UUID) -> None:
    """Wait for the contractor's claim under way, if any, and hold off their next ones until
    the transaction ends: what they hold is then all there is to see."""
    await advisory_lock(session, _claims_of(contractor_id))


async def give_back(
    session: AsyncSession,
    task_ids: Sequence[UUID],
    contractor_id: UUID,
    items_before: Mapping[UUID, ItemBefore],
) -> None:
    """The leases a claim took, given back to the queue on a connection of their own (the
    claim's transaction is failing): those the contractor still holds, their items put back
    as they were before the claim."""
    if not task_ids:
        return
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "sessions are bound to the service's engine"
    async with engine.begin() as connection:
        given_back = await connection.scalars(
            update(Task)
            .where(
                Task.id.in_(task_ids),
                Task.contractor_id == contractor_id,
                Task.status == TaskStatus.LEASED,
            )
            .values(status=TaskStatus.QUEUED, contractor_id=None, lease_expires_at=None)
            .returning(Task.id)
        )
        for task_id in given_back.all():
            if task_id in items_before:
                await put_item_back(connection, task_id, items_before[task_id])


# The item's other open tasks are locked first, without waiting: one another transaction
# holds (a claim leasing it, a cancel) leaves the item as the claim left it, so this never
# waits on a task while holding one (no deadlock with a cancel, an erasure or another claim).
# Only an unfinished item is changed (a final one has no flag), and its status only if no
# other task of it is held or keyed.
_PUT_BACK = text(
    """
    WITH open AS (
        SELECT id FROM task
        WHERE item_id = :item_id AND id <> :task_id AND status <> 'cancelled'
    ),
    others AS (
        SELECT status FROM task WHERE id IN (SELECT id FROM open) FOR UPDATE SKIP LOCKED
    )
    UPDATE item
    SET status = CASE
            WHEN :pending AND status = 'in_progress'
                 AND NOT EXISTS (SELECT 1 FROM others WHERE status = 'submitted')
            THEN 'pending' ELSE status
        END,
        flagged_reason = coalesce(flagged_reason, :flagged_reason)
    WHERE id = :item_id AND status NOT IN ('completed', 'rejected')
      AND (SELECT count(*) FROM others) = (SELECT count(*) FROM open)
      AND NOT EXISTS (SELECT 1 FROM others WHERE status = 'leased')
    """
)


async def put_item_back(connection: AsyncConnection, task_id: UUID, before: ItemBefore) -> None:
    """The item of a task the claim gave up at once (a control in its place, or the claim
    failing) as it was before the claim: pending, and its flag again, unless another of its
    tasks has been leased since (then it is taken) or keyed. Else the item would count as
    started though nobody took it, extraction would pass it over as no longer pending, and a
    flag saying nobody may take its task would be gone until a sweep set it again."""
    await connection.execute(
        _PUT_BACK,
        {
            "item_id": before.item_id,
            "task_id": task_id,
            "pending": before.pending,
            "flagged_reason": before.flagged_reason,
        },
    )
