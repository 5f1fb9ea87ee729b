"""Queries on qualifications: the sets, the skill they make jobs require, contractors'
attempts and the copies an attempt gives."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import driver_connection
from bpo_intake.domain.controls import PoolItem
from bpo_intake.domain.qualifications import Offered
from bpo_intake.models import Qualification, QualificationAttempt
from bpo_intake.repository.controls import PAGES_KEPT

# An item `p` that can be in a set: a control item with a known answer (not a copy), its
# documents still there.
_SETTABLE = f"""
    p.golden IS NOT NULL AND p.control_of IS NULL
    AND jsonb_typeof(p.golden) = 'object' AND p.golden <> '{{}}'::jsonb
    AND {PAGES_KEPT}
"""
# A set's items: those of the job $1.
_SET_ITEM = f"p.job_id = $1 AND {_SETTABLE}"


async def set_size(session: AsyncSession, job_id: UUID) -> int:
    """How many control items job `job_id` has: a qualification's set when it names it."""
    driver = await driver_connection(session)
    query = f"SELECT count(*) FROM item p WHERE {_SET_ITEM}"  # noqa: S608 (a constant)
    return int(await driver.fetchval(query, job_id))


async def get(session: AsyncSession, work_type: str) -> Qualification | None:
    return await session.get(Qualification, work_type)


async def requires(session: AsyncSession, work_type: str) -> bool:
    """Whether the work type has a qualification (its jobs require its skill)."""
    return await session.get(Qualification, work_type) is not None


async def save(session: AsyncSession, row: dict[str, Any]) -> None:
    """A work type's qualification, made or replaced."""
    values = pg_insert(Qualification).values(row)
    await session.execute(
        values.on_conflict_do_update(
            index_elements=["work_type"],
            set_={name: values.excluded[name] for name in row if name != "work_type"},
        )
    )


# The work type's skill added to its jobs not yet done, and to their tasks queued or held (a
# held one may go back to the queue).
_REQUIRE = (
    """
    UPDATE job SET required_skills = required_skills || to_jsonb($1::text)
    WHERE work_type = $1 AND status IN ('open', 'closed') AND NOT required_skills ? $1
    """,
    """
    UPDATE task SET required_skills = required_skills || to_jsonb($1::text)
    WHERE status IN ('queued', 'leased') AND NOT required_skills ? $1
      AND job_id IN (SELECT id FROM job WHERE work_type = $1 AND status IN ('open', 'closed'))
    """,
)


def lock_name(work_type: str) -> str:
    """The advisory lock a work type's qualification is put under, and its new jobs made."""
    return f"qualification-of:{work_type}"


async def require_skill(session: AsyncSession, work_type: str) -> None:
    """The work type's open jobs and their queued tasks require the work type's skill."""
    driver = await driver_connection(session)
    for statement in _REQUIRE:
        await driver.execute(statement, work_type)


# The qualifications a contractor ($1, active) may be offered, in the order they are tried:
# those whose skill they lack and are not waiting to retry, whose work type has queued entry
# tasks that its skill alone keeps from them (of job $3 only, when given); with the
# contractor's attempt at each still under way, if any.
_OFFERED = """
    SELECT q.work_type, q.job_id, a.id AS attempt_id
    FROM qualification q
    JOIN contractor c ON c.id = $1 AND c.status = 'active'
    LEFT JOIN qualification_attempt a
        ON a.contractor_id = $1 AND a.work_type = q.work_type AND a.outcome = 'pending'
    WHERE NOT c.skills ? q.work_type
      AND NOT EXISTS (
          SELECT 1 FROM qualification_attempt f
          WHERE f.contractor_id = $1 AND f.work_type = q.work_type AND f.retry_at > $2
      )
      AND EXISTS (
          SELECT 1 FROM task t JOIN job j ON j.id = t.job_id
          WHERE t.status = 'queued' AND t.kind = 'entry' AND j.work_type = q.work_type
            AND ($3::uuid IS NULL OR t.job_id = $3)
            AND t.required_skills <@ (c.skills || to_jsonb(q.work_type))
      )
    ORDER BY q.work_type
    """


async def offered(
    session: AsyncSession, contractor_id: UUID, job_id: UUID | None, now: datetime
) -> list[Offered]:
    """The qualifications the contractor may be offered now, in order (see _OFFERED)."""
    driver = await driver_connection(session)
    return [Offered(**row) for row in await driver.fetch(_OFFERED, contractor_id, now, job_id)]


async def add_attempt(session: AsyncSession, attempt: QualificationAttempt) -> None:
    session.add(attempt)
    await session.flush()


# A set item ($1: the set's job) the attempt ($2) has not given the contractor ($3) yet: no
# copy of it in the attempt that the contractor holds or has keyed (a copy whose lease ran
# out went back to the queue, and the item is given again).
_NEXT_ITEM = f"""
    SELECT p.id, p.job_id, p.source, p.golden, p.documents, p.layout_id, p.suggestions,
           p.extracted_at, j.data_key
    FROM item p JOIN job j ON j.id = p.job_id
    WHERE {_SET_ITEM}
      AND NOT EXISTS (
          SELECT 1 FROM item c JOIN task t ON t.item_id = c.id
          WHERE c.control_of = p.id AND c.attempt_id = $2
            AND (t.contractor_id = $3 OR t.submitted_by = $3)
      )
    ORDER BY p.id
    LIMIT 1
    """  # noqa: S608 (a constant fragment)


async def next_item(
    session: AsyncSession, job_id: UUID, attempt_id: UUID, contractor_id: UUID
) -> PoolItem | None:
    """The attempt's next set item to give the contractor; None once each was given."""
    driver = await driver_connection(session)
    row = await driver.fetchrow(_NEXT_ITEM, job_id, attempt_id, contractor_id)
    return None if row is None else PoolItem(**row)


# How many of the set's items (still in it) the attempt ($1) gave its contractor ($2) and
# has no answer of yet: a copy they hold, or keyed and not decided.
_AWAITED = f"""
    SELECT count(DISTINCT c.control_of) FROM item c
    JOIN task t ON t.item_id = c.id
    JOIN item p ON p.id = c.control_of
    WHERE c.attempt_id = $1 AND (t.contractor_id = $2 OR t.submitted_by = $2)
      AND c.status NOT IN ('completed', 'rejected')
      AND {_SETTABLE}
    """  # noqa: S608 (constant fragments)


async def awaited(session: AsyncSession, attempt_id: UUID, contractor_id: UUID) -> int:
    driver = await driver_connection(session)
    return int(await driver.fetchval(_AWAITED, attempt_id, contractor_id))


async def drop_attempt(session: AsyncSession, attempt: QualificationAttempt) -> None:
    await session.delete(attempt)
    await session.flush()


async def attempts_for_update(
    session: AsyncSession, attempt_ids: set[UUID]
) -> dict[UUID, QualificationAttempt]:
    query = (
        select(QualificationAttempt)
        .where(QualificationAttempt.id.in_(attempt_ids))
        .with_for_update()
    )
    return {attempt.id: attempt for attempt in await session.scalars(query)}


async def attempts_of(session: AsyncSession, contractor_id: UUID) -> list[QualificationAttempt]:
    """The contractor's attempts, latest first."""
    query = (
        select(QualificationAttempt)
        .where(QualificationAttempt.contractor_id == contractor_id)
        .order_by(QualificationAttempt.started_at.desc(), QualificationAttempt.id.desc())
    )
    return list(await session.scalars(query))


_GRANT = """
    UPDATE contractor SET skills = skills || to_jsonb($2::text)
    WHERE id = $1 AND NOT skills ? $2
    """


async def grant_skill(session: AsyncSession, contractor_id: UUID, skill: str) -> None:
    driver = await driver_connection(session)
    await driver.execute(_GRANT, contractor_id, skill)


_KEYERS = """
    SELECT item_id, submitted_by FROM task
    WHERE item_id = ANY($1::uuid[]) AND kind = 'entry' AND status = 'submitted'
    """


async def keyers(session: AsyncSession, item_ids: list[UUID]) -> dict[UUID, UUID]:
    """Who keyed each of the copies (each is keyed once)."""
    driver = await driver_connection(session)
    return {row["item_id"]: row["submitted_by"] for row in await driver.fetch(_KEYERS, item_ids)}
