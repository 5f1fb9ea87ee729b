"""Every query of the validation service."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Date, case, cast, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_validation.models import Decision, Entry, JobRules, Judgement, Standing


async def add_job_rules(session: AsyncSession, rules: JobRules) -> None:
    session.add(rules)


async def get_job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRules | None:
    query = select(JobRules).where(JobRules.job_id == job_id)
    if scope is not None:
        query = query.where(JobRules.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def add_entry(session: AsyncSession, entry: Entry) -> None:
    session.add(entry)
    await session.flush()


async def entries_of_item(session: AsyncSession, item_id: UUID) -> list[Entry]:
    query = (
        select(Entry).where(Entry.item_id == item_id).order_by(Entry.submitted_at, Entry.task_id)
    )
    return list((await session.execute(query)).scalars())


async def add_decision(session: AsyncSession, decision: Decision) -> None:
    session.add(decision)


async def decisions_of_item(session: AsyncSession, item_id: UUID) -> list[Decision]:
    query = select(Decision).where(Decision.item_id == item_id).order_by(Decision.id)
    return list((await session.execute(query)).scalars())


async def add_judgements(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Judgement), rows)


async def judged_totals(session: AsyncSession, contractor_id: UUID) -> tuple[int, int]:
    """(judged, correct) over every judged field of a contractor."""
    query = select(func.count(), func.count().filter(Judgement.correct)).where(
        Judgement.contractor_id == contractor_id
    )
    judged, correct = (await session.execute(query)).one()
    return int(judged), int(correct)


async def recent_scores(
    session: AsyncSession, contractor_id: UUID, work_type: str, window: int
) -> tuple[int, int]:
    """(judged, correct) over a contractor's latest `window` judged fields of a work type."""
    recent = (
        select(Judgement.correct)
        .where(Judgement.contractor_id == contractor_id, Judgement.work_type == work_type)
        .order_by(Judgement.judged_at.desc())
        .limit(window)
        .subquery()
    )
    query = select(func.count(), func.count().filter(recent.c.correct))
    judged, correct = (await session.execute(query)).one()
    return int(judged), int(correct)


Grouping = Literal["field", "work_type", "golden", "day"]


def _grouping(grouping: Grouping) -> Any:
    if grouping == "field":
        return Judgement.field
    if grouping == "work_type":
        return Judgement.work_type
    if grouping == "golden":
        return case((Judgement.golden, "golden"), else_="regular")
    return cast(func.timezone("UTC", Judgement.judged_at), Date)


async def scores_by(
    session: AsyncSession, contractor_id: UUID, grouping: Grouping, since: datetime | None = None
) -> list[tuple[Any, int, int]]:
    """(key, judged, correct) of a contractor's judged fields, grouped."""
    key = _grouping(grouping)
    query = (
        select(key, func.count(), func.count().filter(Judgement.correct))
        .where(Judgement.contractor_id == contractor_id)
        .group_by(key)
        .order_by(key)
    )
    if since is not None:
        query = query.where(Judgement.judged_at >= since)
    return [(k, int(judged), int(correct)) for k, judged, correct in await session.execute(query)]


async def get_standing(session: AsyncSession, contractor_id: UUID) -> Standing | None:
    return await session.get(Standing, contractor_id)


async def add_standing(session: AsyncSession, standing: Standing) -> None:
    session.add(standing)
