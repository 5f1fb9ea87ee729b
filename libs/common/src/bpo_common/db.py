"""Database plumbing: metadata conventions, the engine, and the request-scoped session.

The entry point owns the transaction: a request's session commits once before the response
is sent, a consumer wraps its work in `session.begin()`. Nothing below the entry point commits.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SessionFactory = async_sessionmaker[AsyncSession]

# Python types that map to JSONB in every service's declarative base.
JSON_TYPES: dict[Any, Any] = {
    dict[str, Any]: JSONB,
    list[dict[str, Any]]: JSONB,
    list[str]: JSONB,
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def create_session_factory(engine: AsyncEngine, *, source: str) -> SessionFactory:
    """Sessions know which service they belong to, so events added to them name their source."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"source": source})


def asyncpg_dsn(url: str) -> str:
    """The same database URL without the SQLAlchemy driver suffix, for raw asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: SessionFactory = request.app.state.runtime.sessions
    async with sessions() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
