"""Every query of the validation service."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Date, and_, case, cast, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock, copy_rows
from bpo_validation.models import (
    Decision,
    Entry,
    JobRules,
    Judgement,
    ReferenceDataset,
    ReferenceRow,
    Standing,
)


async def add_job_rules(session: AsyncSession, rules: JobRules) -> None:
    """Keep a job's rules; a job already known (a copy of its event) is left as it is."""
    if await session.get(JobRules, rules.job_id) is None:
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


async def judged_by_task(session: AsyncSession, item_id: UUID) -> dict[UUID, tuple[int, int]]:
    """(judged, correct) fields of each task of an item."""
    query = (
        select(Judgement.task_id, func.count(), func.count().filter(Judgement.correct))
        .where(Judgement.item_id == item_id)
        .group_by(Judgement.task_id)
    )
    return {task: (int(n), int(ok)) for task, n, ok in (await session.execute(query)).all()}


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


async def add_to_tally(
    session: AsyncSession, contractor_id: UUID, judged: int, correct: int
) -> Standing:
    """Add judged fields to a contractor's running tally; their standing as it now is."""
    values = pg_insert(Standing).values(contractor_id=contractor_id, judged=judged, correct=correct)
    upsert = values.on_conflict_do_update(
        index_elements=[Standing.contractor_id],
        set_={
            "judged": Standing.judged + values.excluded.judged,
            "correct": Standing.correct + values.excluded.correct,
        },
    ).returning(Standing)
    query = select(Standing).from_statement(upsert).execution_options(populate_existing=True)
    standing: Standing = (await session.execute(query)).scalar_one()
    return standing


async def lock_dataset_name(session: AsyncSession, client_id: UUID, name: str) -> None:
    """Serialize uploads and deletions of one dataset name (until the transaction ends)."""
    await advisory_lock(session, f"reference:{client_id}:{name}")


async def delete_dataset(session: AsyncSession, client_id: UUID, name: str) -> bool:
    """Delete a dataset and its rows; whether there was one."""
    query = (
        delete(ReferenceDataset)
        .where(ReferenceDataset.client_id == client_id, ReferenceDataset.name == name)
        .returning(ReferenceDataset.id)
    )
    return (await session.execute(query)).first() is not None


async def add_dataset(
    session: AsyncSession, dataset: ReferenceDataset, rows: Sequence[dict[str, Any]]
) -> None:
    session.add(dataset)
    await session.flush()
    await copy_rows(
        session, ReferenceRow.__table__, [{"dataset_id": dataset.id, **row} for row in rows]
    )


async def get_dataset(session: AsyncSession, client_id: UUID, name: str) -> ReferenceDataset | None:
    query = select(ReferenceDataset).where(
        ReferenceDataset.client_id == client_id, ReferenceDataset.name == name
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_datasets(session: AsyncSession, scope: UUID | None) -> list[ReferenceDataset]:
    query = select(ReferenceDataset).order_by(ReferenceDataset.client_id, ReferenceDataset.name)
    if scope is not None:
        query = query.where(ReferenceDataset.client_id == scope)
    return list((await session.execute(query)).scalars())


async def reference_row(
    session: AsyncSession, client_id: UUID, name: str, key: str
) -> tuple[bool, dict[str, Any] | None]:
    """(whether the client has dataset `name`, the values of its row with this key or None)."""
    query = (
        select(ReferenceRow.values)
        .select_from(ReferenceDataset)
        .outerjoin(
            ReferenceRow,
            and_(ReferenceRow.dataset_id == ReferenceDataset.id, ReferenceRow.key == key),
        )
        .where(ReferenceDataset.client_id == client_id, ReferenceDataset.name == name)
    )
    found = (await session.execute(query)).first()
    return (False, None) if found is None else (True, found[0])
