"""Queries of adaptive QC: judged fields by field, a keyer's and the crew's, recent first;
jobs' ledgers of the accuracy they deliver."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Subquery, case, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import MACHINE_CONTRACTOR_ID
from bpo_common.db import among
from bpo_validation.domain.crew import Crew, Tally
from bpo_validation.models import JobAccuracy, Judgement, KeyerRoute, ProvisionalJudgement


async def recent_by_field(
    session: AsyncSession, contractor_id: UUID, work_type: str, window: int
) -> dict[str, Tally]:
    """(judged, correct) by field over a contractor's latest `window` judged fields of a
    work type."""
    latest = _latest(window, work_type, contractor_id)
    query = select(latest.c.field, func.count(), func.sum(latest.c.wrong)).group_by(latest.c.field)
    return {
        name: Tally(int(judged), judged - float(wrong))
        for name, judged, wrong in await session.execute(query)
    }


async def crew_by_keyer(session: AsyncSession, work_type: str, window: int) -> Crew:
    """(judged, correct) by keyer and field over the latest `window` judged fields of a work
    type, the machine's aside."""
    latest = _latest(window, work_type)
    query = select(
        latest.c.contractor_id, latest.c.field, func.count(), func.sum(latest.c.wrong)
    ).group_by(latest.c.contractor_id, latest.c.field)
    by_keyer: dict[UUID, dict[str, Tally]] = {}
    for keyer, name, judged, wrong in await session.execute(query):
        by_keyer.setdefault(keyer, {})[name] = Tally(int(judged), judged - float(wrong))
    return Crew(by_keyer)


def _latest(window: int, work_type: str, contractor_id: UUID | None = None) -> Subquery:
    """The latest `window` judged fields of a work type (a contractor's, or the crew's but the
    machine's) as (keyer, field, how much of an error): final judgements, and provisional ones
    (keyings that differ, their item awaiting adjudication), a wrong provisional field counted
    as half an error, for one of the two keyings that differ there is wrong and which one is
    not known yet. Without them, a window of the latest judged fields would miss the errors
    that wait for an adjudicator while the fields of items whose keyings agree are in: it
    would read the crew as more accurate than it is.

    Each table's latest `window` first, newest first by index (models): else the planner may
    read and sort every judged field of the work type (0.9 s a first keying at 1.6 million)."""
    parts = []
    for table, weight in ((Judgement, 1.0), (ProvisionalJudgement, 0.5)):
        who = (
            table.contractor_id == contractor_id
            if contractor_id is not None
            # As a literal: the crew's index leaves the machine's fields out
            # (models.CREW_FIELDS), which a statement can use only if it says so itself.
            else table.contractor_id != literal(MACHINE_CONTRACTOR_ID, literal_execute=True)
        )
        parts.append(
            select(
                table.contractor_id,
                table.field,
                table.judged_at,
                case((table.correct, 0.0), else_=weight).label("wrong"),
            )
            .where(table.work_type == work_type, who)
            .order_by(table.judged_at.desc())
            .limit(window)
        )
    judged = union_all(*parts).subquery()
    return (
        select(judged.c.contractor_id, judged.c.field, judged.c.wrong)
        .order_by(judged.c.judged_at.desc())
        .limit(window)
        .subquery()
    )


async def ledgers_for_update(
    session: AsyncSession, job_ids: Iterable[UUID], now: datetime
) -> dict[UUID, JobAccuracy]:
    """The jobs' ledgers, locked until the transaction ends (one run at a time rules on a
    job's items); a job without one yet gets an empty one first, as a lock on no row would let
    two runs each start a ledger of their own, the later one written over the other."""
    wanted = sorted(set(job_ids))
    found = await _ledgers_for_update(session, wanted)
    missing = [job_id for job_id in wanted if job_id not in found]
    if missing:
        empty = [0, 0.0, 0.0, 0.0, 0.0]
        rows = [
            {"job_id": job_id, "checked": empty, "partly": empty, "carried": {}, "updated_at": now}
            for job_id in missing
        ]
        await session.execute(
            pg_insert(JobAccuracy).values(rows).on_conflict_do_nothing(index_elements=["job_id"])
        )
        found |= await _ledgers_for_update(session, missing)
    return found


async def _ledgers_for_update(
    session: AsyncSession, job_ids: Sequence[UUID]
) -> dict[UUID, JobAccuracy]:
    query = (
        select(JobAccuracy)
        .where(among(JobAccuracy.job_id, job_ids))
        .order_by(JobAccuracy.job_id)
        .with_for_update()
    )
    return {row.job_id: row for row in (await session.execute(query)).scalars()}


async def save_ledgers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    values = pg_insert(JobAccuracy).values(list(rows))
    columns = {name: values.excluded[name] for name in rows[0] if name != "job_id"}
    await session.execute(values.on_conflict_do_update(index_elements=["job_id"], set_=columns))


async def ledger_of(session: AsyncSession, job_id: UUID) -> JobAccuracy | None:
    return await session.get(JobAccuracy, job_id)


async def written(session: AsyncSession, row: JobAccuracy) -> JobAccuracy:
    """The row written, and read again as a later read finds it (PostgreSQL keeps a JSON
    object's keys in an order of its own)."""
    await session.flush()
    await session.refresh(row)
    return row


async def route_of(session: AsyncSession, contractor_id: UUID, work_type: str) -> bool:
    """Whether the keyer was last said doubtful on the work type (never said: not). Read
    without a lock: two runs that change it at once write the same state."""
    route = await session.get(KeyerRoute, (contractor_id, work_type))
    return route is not None and route.doubtful


async def save_routes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    values = pg_insert(KeyerRoute).values(list(rows))
    await session.execute(
        values.on_conflict_do_update(
            index_elements=["contractor_id", "work_type"],
            set_={"doubtful": values.excluded.doubtful, "changed_at": values.excluded.changed_at},
        )
    )
