"""Queries on contractors."""

from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.models import Contractor, KeyerRoute


async def add_contractor(session: AsyncSession, contractor: Contractor) -> None:
    session.add(contractor)
    await session.flush()


async def set_skills(
    session: AsyncSession, contractor_id: UUID, skills: list[str]
) -> Contractor | None:
    """The contractor with these skills (None: there is none), in one statement: a skill a
    qualification grants meanwhile is not lost to an older read."""
    query = (
        update(Contractor)
        .where(Contractor.id == contractor_id)
        .values(skills=skills)
        .returning(Contractor)
        .execution_options(synchronize_session=False)
    )
    return await session.scalar(query)


async def get_contractor(
    session: AsyncSession, contractor_id: UUID, *, fresh: bool = False
) -> Contractor | None:
    """The contractor; `fresh`: read again, whatever the session read before."""
    return await session.get(Contractor, contractor_id, populate_existing=fresh)


async def list_contractors(session: AsyncSession, page: PageRequest) -> list[Contractor]:
    query = paginate(select(Contractor), Contractor.id, page)
    return list((await session.execute(query)).scalars())


async def set_route(session: AsyncSession, route: dict[str, object]) -> None:
    """Whether validation doubts a keyer on a work type: the latest said wins (an older
    copy of the event changes nothing)."""
    values = pg_insert(KeyerRoute).values(route)
    await session.execute(
        values.on_conflict_do_update(
            index_elements=["contractor_id", "work_type"],
            set_={"doubtful": values.excluded.doubtful, "changed_at": values.excluded.changed_at},
            where=KeyerRoute.changed_at < values.excluded.changed_at,
        )
    )
