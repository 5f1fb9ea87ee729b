"""Queries on contractors."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.models import Contractor, KeyerRoute


async def add_contractor(session: AsyncSession, contractor: Contractor) -> None:
    session.add(contractor)
    await session.flush()


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
