"""Queries on clients' API keys."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_intake.models import ApiKey
from bpo_intake.repository import of_client


async def add_api_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)
    await session.flush()


async def list_api_keys(
    session: AsyncSession, scope: UUID | None, client_id: UUID | None, page: PageRequest
) -> list[ApiKey]:
    query = of_client(select(ApiKey), ApiKey.client_id, scope)
    query = of_client(query, ApiKey.client_id, client_id)
    return list((await session.execute(paginate(query, ApiKey.id, page))).scalars())


async def get_api_key(session: AsyncSession, key_id: UUID, scope: UUID | None) -> ApiKey | None:
    query = of_client(select(ApiKey).where(ApiKey.id == key_id), ApiKey.client_id, scope)
    return (await session.execute(query)).scalar_one_or_none()


async def revoke_api_key(
    session: AsyncSession, key_id: UUID, scope: UUID | None, now: datetime
) -> bool:
    """Revokes the key (a revoked one keeps its first revocation time); returns whether it
    exists within `scope`."""
    query = update(ApiKey).where(ApiKey.id == key_id)
    if scope is not None:
        query = query.where(ApiKey.client_id == scope)
    query = query.values(revoked_at=func.coalesce(ApiKey.revoked_at, now))
    return (await session.execute(query.returning(ApiKey.id))).first() is not None


async def mark_api_key_used(
    session: AsyncSession, key_id: UUID, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """Mark the key used, under its row's lock: (revoked_at, expires_at) as they are then, so
    that a revocation committed while its secret was checked refuses the token too."""
    marked = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(last_used_at=now)
        .returning(ApiKey.revoked_at, ApiKey.expires_at)
    )
    revoked_at, expires_at = marked.one()
    return revoked_at, expires_at
