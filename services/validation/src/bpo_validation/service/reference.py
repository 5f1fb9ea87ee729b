"""Use cases of reference datasets: a client's own data (purchase orders, vendor master)
that `lookup` rules check entries against.

An upload, parsed beforehand (domain.datasets), replaces the dataset of that name in one
transaction; uploads and deletions of one name are serialized by a lock on the name.
"""

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_validation.domain.datasets import Table
from bpo_validation.domain.reference import wanted_by_key
from bpo_validation.models import ReferenceDataset
from bpo_validation.repository import reference as repository
from bpo_validation.schemas import ReferenceDatasetOut


async def replace(
    session: AsyncSession, client_id: UUID, name: str, key: str, table: Table
) -> ReferenceDatasetOut:
    """Store the dataset `name` of a client, replacing the one before it, if any."""
    await repository.lock_dataset_name(session, client_id, name)
    await repository.delete_dataset(session, client_id, name)
    dataset = ReferenceDataset(
        id=new_id(),
        client_id=client_id,
        name=name,
        key_column=key,
        columns=table.columns,
        row_count=len(table.rows),
        uploaded_at=utcnow(),
    )
    await repository.add_dataset(session, dataset, table.rows)
    return ReferenceDatasetOut.model_validate(dataset)


async def get(session: AsyncSession, client_id: UUID, name: str) -> ReferenceDatasetOut:
    dataset = await repository.get_dataset(session, client_id, name)
    if dataset is None:
        raise NotFound(f"no reference dataset {name}")
    return ReferenceDatasetOut.model_validate(dataset)


async def all_of(session: AsyncSession, scope: UUID | None) -> list[ReferenceDatasetOut]:
    datasets = await repository.list_datasets(session, scope)
    return [ReferenceDatasetOut.model_validate(dataset) for dataset in datasets]


async def remove(session: AsyncSession, client_id: UUID, name: str) -> None:
    await repository.lock_dataset_name(session, client_id, name)
    if not await repository.delete_dataset(session, client_id, name):
        raise NotFound(f"no reference dataset {name}")


async def find_row(session: AsyncSession, client_id: UUID, name: str, key: str) -> dict[str, Any]:
    """The row of dataset `name` a lookup finds for `key` (domain.reference.wanted_by_key)."""
    found = await repository.look_up(session, client_id, *wanted_by_key(name, key))
    if not found.dataset_exists:
        raise NotFound(f"no reference dataset {name}")
    if found.row is None:
        raise NotFound(f"{name} has no row with key {key}")
    return dict(found.row)
