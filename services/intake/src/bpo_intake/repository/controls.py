"""Queries of control injection: whether a keyer is new to a work type or doubted on it, the
pool a control is copied from (the client's control items, then the items two keyers agreed
on where it allows), and the control's task as its claimer sees it.

They run only when a claim draws a control, never on a claim of a job without a golden rate.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import driver_connection
from bpo_intake.domain.controls import NEW_KEYER_TASKS, PoolItem
from bpo_intake.repository.tasks import SHOWS_SUGGESTIONS

# Doubted on the work type (keyer_route), or fewer than $3 entry tasks submitted on it, a
# qualification's copies aside (ix_task_keyer: the keyer's entries, each job and item looked
# up until $3 are found).
_WARY = """
    SELECT coalesce(
        (SELECT doubtful FROM keyer_route WHERE contractor_id = $1 AND work_type = $2), false
    ) OR (
        SELECT count(*) FROM (
            SELECT 1 FROM task t
            JOIN job j ON j.id = t.job_id
            JOIN item i ON i.id = t.item_id
            WHERE t.submitted_by = $1 AND t.kind = 'entry' AND j.work_type = $2
              AND i.attempt_id IS NULL
            LIMIT $3
        ) AS keyed
    ) < $3
    """


async def wary(session: AsyncSession, contractor_id: UUID, work_type: str) -> bool:
    """Whether the keyer is new to the work type or adaptive QC doubts them on it."""
    driver = await driver_connection(session)
    return bool(await driver.fetchval(_WARY, contractor_id, work_type, NEW_KEYER_TASKS))


# The keyer $2 holds or has keyed neither the pool item `p` nor a copy of it.
_NEVER_HAD = """
    NOT EXISTS (
        SELECT 1 FROM task t
        WHERE t.item_id = p.id AND (t.contractor_id = $2 OR t.submitted_by = $2)
    )
    AND NOT EXISTS (
        SELECT 1 FROM item c JOIN task t ON t.item_id = c.id
        WHERE c.control_of = p.id AND (t.contractor_id = $2 OR t.submitted_by = $2)
    )
"""

# The keyer $2 has every skill the pool item's job `pj` requires: a copy shows its source
# and documents as the job itself would.
_SKILLED = """
    pj.required_skills <@ (SELECT c.skills FROM contractor c WHERE c.id = $2)
"""

# The documents of the pool item `p` are all still there (retention deletes a job's
# documents before its values): a copy is keyed from them.
PAGES_KEPT = """
    NOT EXISTS (
        SELECT 1 FROM document d WHERE d.id = ANY(p.documents) AND d.deleted_at IS NOT NULL
    )
"""

# The client's completed control items (not copies, not erased) of jobs with the same work
# type and fields as job $1 whose skills the keyer $2 has, but none they hold or have keyed,
# nor one they hold or have keyed a copy of, nor one of $4 (passed over); in an order the
# caller's draw ($3) sets. Completed: an item still in the queue could come to the keyer
# again as itself.
_POOL_ITEM = f"""
    SELECT p.id, p.job_id, p.source, p.golden, p.documents, p.layout_id, p.suggestions,
           p.extracted_at, pj.data_key
    FROM job j
    JOIN item p ON p.client_id = j.client_id
    JOIN job pj ON pj.id = p.job_id
    WHERE j.id = $1
      AND p.golden IS NOT NULL AND p.control_of IS NULL AND p.status = 'completed'
      AND jsonb_typeof(p.golden) = 'object' AND p.golden <> '{{}}'::jsonb
      AND pj.work_type = j.work_type AND pj.fields = j.fields AND p.id <> ALL($4::uuid[])
      AND {_NEVER_HAD} AND {PAGES_KEPT} AND {_SKILLED}
    ORDER BY md5(p.id::text || $3)
    LIMIT 1
    FOR SHARE OF p SKIP LOCKED
    """  # noqa: S608 (a constant fragment)


# How many of the client's latest agreed items (see _AGREED_ITEM) a draw looks at.
AGREED_WINDOW = 500

# Where the client lets them be (qc.agreed_controls): one of its latest $5 completed items of
# the same work type and fields as job $1 that two keyers agreed on (not erased), its result
# the answer; as _POOL_ITEM has them for keyer $2, in the order $3 sets, none of $4.
_AGREED_ITEM = f"""
    WITH latest AS (
        SELECT p.id FROM job j
        JOIN item p ON p.client_id = j.client_id
        JOIN job pj ON pj.id = p.job_id
        WHERE j.id = $1 AND p.agreed AND p.status = 'completed' AND p.control_of IS NULL
          AND pj.work_type = j.work_type AND pj.fields = j.fields
          AND jsonb_typeof(p.result) = 'object' AND p.result <> '{{}}'::jsonb
        ORDER BY p.id DESC
        LIMIT $5
    )
    SELECT p.id, p.job_id, p.source, p.result AS golden, p.documents, p.layout_id,
           p.suggestions, p.extracted_at, pj.data_key
    FROM latest
    JOIN item p ON p.id = latest.id
    JOIN job pj ON pj.id = p.job_id
    WHERE jsonb_typeof(p.result) = 'object' AND p.result <> '{{}}'::jsonb
      AND p.id <> ALL($4::uuid[]) AND {_NEVER_HAD} AND {PAGES_KEPT} AND {_SKILLED}
    ORDER BY md5(p.id::text || $3)
    LIMIT 1
    FOR SHARE OF p SKIP LOCKED
    """  # noqa: S608 (a constant fragment)


async def pool_item(
    session: AsyncSession,
    job_id: UUID,
    contractor_id: UUID,
    order: str,
    passed: Sequence[UUID] = (),
) -> PoolItem | None:
    """A completed control item of the job's client the keyer has never had (nor a copy of),
    for a control in the job; else one of its items two keyers agreed on, where it allows;
    None when there is none. `order`: any string, which one; `passed`: items not to give.
    The item is share-locked, and one an erasure is changing is passed over (one it changed
    meanwhile is read again as it is now, and its erased values no longer qualify): a copy
    is never made from values an erasure has erased, and an erasure waits for copies in the
    making, which it then finds."""
    driver = await driver_connection(session)
    args = (job_id, contractor_id, order, list(passed))
    row = await driver.fetchrow(_POOL_ITEM, *args)
    if row is None:
        row = await driver.fetchrow(_AGREED_ITEM, *args, AGREED_WINDOW)
    return None if row is None else PoolItem(**row)


# What the claimer of a control's task is shown of it that is not the job's (which the claim
# it took the place of gave).
_CONTROL_TASK = f"""
    SELECT task.id, task.kind, task.item_id, task.entries, task.differing, task.reason,
           task.keyed_fields, task.lease_expires_at, item.source, item.documents,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="task")} THEN item.suggestions END
               AS suggestions
    FROM task
    JOIN item ON item.id = task.item_id
    JOIN job ON job.id = task.job_id
    WHERE task.id = $1
    """  # noqa: S608 (a constant fragment)


async def control_task(session: AsyncSession, task_id: UUID) -> dict[str, Any]:
    """A control's task, leased in this transaction, as a claim shows its own."""
    driver = await driver_connection(session)
    return dict(await driver.fetchrow(_CONTROL_TASK, task_id))
