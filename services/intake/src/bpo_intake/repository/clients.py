"""Queries on client companies."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_intake.models import Client


async def add_client(session: AsyncSession, client: Client) -> None:
    session.add(client)
    await session.flush()


async def client_exists(session: AsyncSession, client_id: UUID) -> bool:
    return (await session.get(Client, client_id)) is not None
