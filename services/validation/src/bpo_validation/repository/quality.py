"""Queries of judged fields and contractors' standing."""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import among, as_arrays, copy_rows, insert_arrays
from bpo_validation.models import Entry, Judgement, ProvisionalJudgement, Standing


async def add_judgements(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await copy_rows(session, Judgement.__table__, rows)


async def replace_provisional(
    session: AsyncSession, settled: Collection[UUID], rows: Sequence[dict[str, Any]]
) -> None:
    """Drop the provisional judgements of the items `settled` (final since) and of the items
    `rows` judge again, then add `rows`."""
    items = {*settled, *(row["item_id"] for row in rows)}
    if items:
        await session.execute(
            delete(ProvisionalJudgement).where(among(ProvisionalJudgement.item_id, items))
        )
    await copy_rows(session, ProvisionalJudgement.__table__, rows)


async def drop_provisional(
    session: AsyncSession, job_id: UUID, item_ids: Collection[UUID] | None = None
) -> None:
    """Drop the provisional judgements of the job's items (of these of them, if given), whose
    adjudication will never come: their keyings' half errors would weigh on their keyers
    until newer work pushed them out of the window."""
    chosen: ColumnElement[bool]
    if item_ids is not None:
        chosen = ProvisionalJudgement.item_id.in_(list(item_ids))
    else:
        # From the few provisional rows to their items' entries (by the item's index), never
        # through every entry of the table (entry has no index by job).
        of_the_job = select(Entry.item_id).where(
            Entry.item_id == ProvisionalJudgement.item_id, Entry.job_id == job_id
        )
        chosen = of_the_job.exists()
    await session.execute(delete(ProvisionalJudgement).where(chosen))


async def judged_by_task(
    session: AsyncSession, item_ids: Sequence[UUID]
) -> dict[UUID, tuple[int, int]]:
    """(judged, correct) fields of each task of the items."""
    query = (
        select(Judgement.task_id, func.count(), func.count().filter(Judgement.correct))
        .where(among(Judgement.item_id, item_ids))
        .group_by(Judgement.task_id)
    )
    return {task: (int(n), int(ok)) for task, n, ok in (await session.execute(query)).all()}


async def scores_by_layout(
    session: AsyncSession, contractor_id: UUID
) -> list[tuple[UUID, str, int, int]]:
    """(layout, field, judged, correct) of the machine's judged fields."""
    query = (
        select(
            Judgement.layout_id,
            Judgement.field,
            func.count(),
            func.count().filter(Judgement.correct),
        )
        .where(Judgement.contractor_id == contractor_id, Judgement.layout_id.is_not(None))
        .group_by(Judgement.layout_id, Judgement.field)
        .order_by(Judgement.layout_id, Judgement.field)
    )
    rows = await session.execute(query)
    return [(layout, name, int(n), int(ok)) for layout, name, n, ok in rows if layout is not None]


async def wrong_prefills(session: AsyncSession, contractor_id: UUID) -> tuple[int, int]:
    """(shown, kept): the contractor's judged fields whose pre-fill was wrong, and how many of
    those they kept."""
    query = select(
        func.count(Judgement.accepted_wrong_prefill),
        func.count().filter(Judgement.accepted_wrong_prefill.is_(True)),
    ).where(Judgement.contractor_id == contractor_id)
    shown, kept = (await session.execute(query)).one()
    return int(shown), int(kept)


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


def _latest_judged() -> Select[Any]:
    """Each asked (contractor, work type)'s latest judged fields, oldest first, as one array:
    the pairs go as arrays too, so that the statement is the same for any number of them.
    After an instant (a reactivation), only fields of keyings submitted after it: a keying
    made before it and judged since is of the work that brought the suspension."""
    asked = (
        func.unnest(
            bindparam("contractor_ids", type_=ARRAY(Uuid)),
            bindparam("work_types", type_=ARRAY(String)),
            bindparam("sinces", type_=ARRAY(DateTime(timezone=True))),
            bindparam("sizes", type_=ARRAY(Integer)),
        )
        .table_valued(
            column("contractor_id", Uuid),
            column("work_type", String),
            column("since", DateTime(timezone=True)),
            column("size", Integer),
        )
        .render_derived(name="asked")
    )
    # Judged after the instant (a cheap test first: a keying is judged after it is made),
    # of a keying made after it.
    keyed_since = and_(
        Judgement.judged_at > asked.c.since,
        select(Entry.task_id)
        .where(Entry.task_id == Judgement.task_id, Entry.submitted_at > asked.c.since)
        .correlate(Judgement, asked)
        .exists(),
    )
    judged = (
        select(Judgement.correct, Judgement.judged_at, Judgement.id)
        .where(
            Judgement.contractor_id == asked.c.contractor_id,
            Judgement.work_type == asked.c.work_type,
            or_(asked.c.since.is_(None), keyed_since),
        )
        .order_by(Judgement.judged_at.desc(), Judgement.id.desc())
        .limit(asked.c.size)
        .correlate(asked)
        .subquery("judged")
    )
    # Each pair's fields put in order apart: sorting all the pairs' fields together cost more
    # than reading them.
    in_order = aggregate_order_by(judged.c.correct, judged.c.judged_at, judged.c.id)
    latest = select(func.array_agg(in_order).label("correct")).lateral("latest")
    return select(asked.c.contractor_id, asked.c.work_type, latest.c.correct).select_from(
        asked.join(latest, true())
    )


_LATEST_JUDGED = _latest_judged()


async def latest_judged(
    session: AsyncSession, asked: Mapping[tuple[UUID, str], tuple[datetime | None, int]]
) -> dict[tuple[UUID, str], list[bool]]:
    """Each (contractor, work type)'s latest judged fields, right or wrong, oldest first: for
    each the number asked for at most, of keyings made after the instant given with it (if
    one is).
    One statement; each pair reads its contractor's judged fields newest first by index."""
    found: dict[tuple[UUID, str], list[bool]] = {pair: [] for pair in asked}
    if not asked:
        return found
    pairs = sorted(asked.items())
    arrays = {
        "contractor_ids": [contractor_id for (contractor_id, _), _ in pairs],
        "work_types": [work_type for (_, work_type), _ in pairs],
        "sinces": [since for _, (since, _) in pairs],
        "sizes": [size for _, (_, size) in pairs],
    }
    for contractor_id, work_type, correct in await session.execute(_LATEST_JUDGED, arrays):
        found[(contractor_id, work_type)] = list(correct or [])
    return found


async def get_standing(session: AsyncSession, contractor_id: UUID) -> Standing | None:
    return await session.get(Standing, contractor_id)


async def standing_for_update(session: AsyncSession, contractor_id: UUID) -> Standing:
    """The contractor's standing (a new one if they have none yet), locked until the
    transaction ends."""
    await session.execute(
        pg_insert(Standing).values(contractor_id=contractor_id).on_conflict_do_nothing()
    )
    query = (
        select(Standing)
        .where(Standing.contractor_id == contractor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


_TALLY = ("contractor_id", "judged", "correct")
_tallies = insert_arrays(Standing.__table__, _TALLY)
_ADD_TO_TALLIES = _tallies.on_conflict_do_update(
    index_elements=[Standing.contractor_id],
    set_={
        "judged": Standing.judged + _tallies.excluded.judged,
        "correct": Standing.correct + _tallies.excluded.correct,
    },
).returning(Standing)


async def add_to_tallies(
    session: AsyncSession, tallies: Mapping[UUID, tuple[int, int]]
) -> dict[UUID, Standing]:
    """Add (judged, correct) fields to each contractor's running tally, in one statement taking
    the rows in contractor order (so that two runs never wait on each other); their standings
    as they now are."""
    if not tallies:
        return {}
    rows = [
        {"contractor_id": contractor_id, "judged": judged, "correct": correct}
        for contractor_id, (judged, correct) in sorted(tallies.items())
    ]
    query = select(Standing).from_statement(_ADD_TO_TALLIES)
    found = await session.execute(
        query.execution_options(populate_existing=True), as_arrays(rows, _TALLY)
    )
    return {standing.contractor_id: standing for standing in found.scalars()}
