"""Price book versions."""

from datetime import date
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.price_books import in_force
from bpo_billing.models import PriceBook


async def price_books(session: AsyncSession, client_id: UUID) -> list[PriceBook]:
    query = select(PriceBook).where(PriceBook.client_id == client_id).order_by(PriceBook.version)
    return list((await session.execute(query)).scalars())


async def add_price_book(session: AsyncSession, book: PriceBook) -> None:
    session.add(book)
    await session.flush()


async def price_book_at(session: AsyncSession, client_id: UUID, day: date) -> PriceBook | None:
    """The version in force on `day` (domain.price_books.in_force)."""
    return in_force(await price_books(session, client_id), day)
