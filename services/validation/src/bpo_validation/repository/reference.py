"""Queries of reference datasets and their rows."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, Text, and_, delete, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import advisory_lock, copy_rows
from bpo_validation.domain.reference import SEPARATORS, LookupResult, compact_key
from bpo_validation.models import ReferenceDataset, ReferenceRow


async def lock_dataset_name(session: AsyncSession, client_id: UUID, name: str) -> None:
    """Serialize uploads and deletions of one dataset name (until the transaction ends)."""
    await advisory_lock(session, f"reference:{client_id}:{name}")


async def delete_dataset(session: AsyncSession, client_id: UUID, name: str) -> bool:
    """Delete a dataset and its rows; whether there was one."""
    query = (
        delete(ReferenceDataset)
        .where(ReferenceDataset.client_id == client_id, ReferenceDataset.name == name)
        .returning(ReferenceDataset.id)
    )
    return (await session.execute(query)).first() is not None


async def add_dataset(
    session: AsyncSession, dataset: ReferenceDataset, rows: Sequence[dict[str, Any]]
) -> None:
    session.add(dataset)
    await session.flush()
    await copy_rows(
        session, ReferenceRow.__table__, [{"dataset_id": dataset.id, **row} for row in rows]
    )


async def get_dataset(session: AsyncSession, client_id: UUID, name: str) -> ReferenceDataset | None:
    query = select(ReferenceDataset).where(
        ReferenceDataset.client_id == client_id, ReferenceDataset.name == name
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_datasets(session: AsyncSession, scope: UUID | None) -> list[ReferenceDataset]:
    query = select(ReferenceDataset).order_by(ReferenceDataset.client_id, ReferenceDataset.name)
    if scope is not None:
        query = query.where(ReferenceDataset.client_id == scope)
    return list((await session.execute(query)).scalars())


def _key_without_separators() -> ColumnElement[str]:
    """A row's match key without an identifier's separators (domain.reference.compact_key):
    the expression of the index `ix_reference_row_compact_key`, which a query uses only when
    it writes the expression the same way."""
    return literal_column(f"regexp_replace(reference_row.key, '{SEPARATORS}', '', 'g')", Text)


async def look_up(
    session: AsyncSession,
    client_id: UUID,
    name: str,
    key: str,
    identifier: bool = False,
    also: Sequence[str] = (),
) -> LookupResult:
    """Whether the client has dataset `name`, and the values of its row with this match key;
    for an identifier (`Wanted`), failing that, of its first row whose key is the same
    without separators, or is one of its other spellings (`also`) so written."""
    query = (
        select(ReferenceDataset.id, ReferenceRow.values)
        .select_from(ReferenceDataset)
        .outerjoin(
            ReferenceRow,
            and_(ReferenceRow.dataset_id == ReferenceDataset.id, ReferenceRow.key == key),
        )
        .where(ReferenceDataset.client_id == client_id, ReferenceDataset.name == name)
    )
    found = (await session.execute(query)).first()
    if found is None:
        return LookupResult(False)
    dataset_id, values = found
    if values is None and identifier:
        for spelling in (key, *also):
            values = (await session.execute(row_without_separators(dataset_id, spelling))).scalar()
            if values is not None:
                break
    return LookupResult(True, values)


def row_without_separators(dataset_id: UUID, key: str) -> Select[tuple[dict[str, Any]]]:
    """The values of the dataset's first row whose key is `key` without separators."""
    return (
        select(ReferenceRow.values)
        .where(ReferenceRow.dataset_id == dataset_id, _key_without_separators() == compact_key(key))
        .order_by(ReferenceRow.key)
        .limit(1)
    )
