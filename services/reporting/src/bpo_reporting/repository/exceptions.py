"""The match exceptions validation holds open: noted as they open, gone as they end."""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, exists, or_
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import as_arrays, insert_arrays
from bpo_reporting.models import ItemFact, OpenExceptionFact

_OPENED = ("exception_id", "job_id", "item_id", "opened_at")
_NOTE_OPENED = insert_arrays(OpenExceptionFact.__table__, _OPENED).on_conflict_do_nothing()
# An item finished: no exception of it holds it any more.
FINISHED = or_(
    ItemFact.completed_at.is_not(None),
    ItemFact.rejected_at.is_not(None),
    ItemFact.erased_at.is_not(None),
)


async def note_opened(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Note exceptions opened (rows of `_OPENED`), but none of an item already finished: its
    completion, rejection or erasure, come first, ended it (a rebuild meets an item's erasure
    so, its exception's event moved to the stream's end when the erasure emptied it)."""
    if not rows:
        return
    await session.execute(_NOTE_OPENED, as_arrays(rows, _OPENED))
    await session.execute(
        delete(OpenExceptionFact).where(
            OpenExceptionFact.item_id.in_([row["item_id"] for row in rows]),
            exists().where(ItemFact.item_id == OpenExceptionFact.item_id, FINISHED),
        )
    )


async def end(session: AsyncSession, exception_ids: Sequence[UUID]) -> None:
    """Forget exceptions resolved; one never noted (opened before reporting took them) is no
    matter."""
    if exception_ids:
        await session.execute(
            delete(OpenExceptionFact).where(OpenExceptionFact.exception_id.in_(exception_ids))
        )


async def end_of_items(session: AsyncSession, item_ids: Sequence[UUID]) -> None:
    """Forget the exceptions of items finished: completed, rejected or closed by an erasure
    (which closes its exception with no resolution of its own)."""
    if item_ids:
        await session.execute(
            delete(OpenExceptionFact).where(OpenExceptionFact.item_id.in_(item_ids))
        )
