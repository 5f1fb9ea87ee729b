"""Price book versions."""

from datetime import date
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import PriceBook


async def price_books(session: AsyncSession, client_id: UUID) -> list[PriceBook]:
    query = select(PriceBook).where(PriceBook.client_id == client_id).order_by(PriceBook.version)
    return list((await session.execute(query)).scalars())


async def add_price_book(session: AsyncSession, book: PriceBook) -> None:
    session.add(book)
    await session.flush()


async def price_book_at(session: AsyncSession, client_id: UUID, day: date) -> PriceBook | None:
    """The version in force on `day`; before the first version, the first version."""
    query = (
        select(PriceBook)
        .where(PriceBook.client_id == client_id)
        .order_by((PriceBook.effective_from <= day).desc(), PriceBook.effective_from.desc())
        .limit(1)
    )
    book = (await session.execute(query)).scalar_one_or_none()
    if book is None or book.effective_from <= day:
        return book
    first = select(PriceBook).where(PriceBook.client_id == client_id).order_by(PriceBook.version)
    return (await session.execute(first.limit(1))).scalar_one()
