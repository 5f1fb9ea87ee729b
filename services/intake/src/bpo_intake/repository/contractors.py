"""Queries on contractors."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.models import Contractor


async def add_contractor(session: AsyncSession, contractor: Contractor) -> None:
    session.add(contractor)
    await session.flush()


async def get_contractor(session: AsyncSession, contractor_id: UUID) -> Contractor | None:
    return await session.get(Contractor, contractor_id)


async def list_contractors(session: AsyncSession, page: PageRequest) -> list[Contractor]:
    query = paginate(select(Contractor), Contractor.id, page)
    return list((await session.execute(query)).scalars())
