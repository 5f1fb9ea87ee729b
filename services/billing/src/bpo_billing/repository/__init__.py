"""Every query of the billing service, one module per aggregate, and here what they share.
Use cases change the rows they loaded; the session writes those changes before its next
query and at commit."""

from uuid import UUID

from sqlalchemy import ColumnElement, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock

# How many rows waiting for a price a new price book version or piece rate reads, prices and
# writes at a time: a backlog of any size then costs the memory of one chunk.
WAITING_CHUNK = 5_000


async def lock_client(
    session: AsyncSession, client_id: UUID, purpose: str, *, shared: bool = False
) -> None:
    """Serialize one kind of work on one client (price book versions, invoice drafts) for
    the rest of the transaction; shared holders only keep the exclusive one out."""
    await advisory_lock(session, f"billing:{purpose}:{client_id}", shared=shared)


async def exists(session: AsyncSession, *where: ColumnElement[bool]) -> bool:
    """Whether a row matches: what makes handling an event a second time a no-op."""
    return (await session.execute(select(literal(1)).where(*where))).first() is not None
