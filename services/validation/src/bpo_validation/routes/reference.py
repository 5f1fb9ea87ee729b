"""Routes of reference datasets: uploaded whole, as CSV or NDJSON, by the client they belong to."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from bpo_common import audit, media
from bpo_common.auth import ClientPrincipal, ClientScope, CurrentClient, KeyScope, current_client
from bpo_common.db import SessionDep
from bpo_common.errors import PROBLEM_JSON
from bpo_common.rules.names import DatasetName
from bpo_common.text import CheckedRoute
from bpo_validation.domain.datasets import Format, parse
from bpo_validation.schemas import ReferenceDatasetOut
from bpo_validation.service import reference

router = APIRouter(prefix="/v1", route_class=CheckedRoute)

_TEXT = {"schema": {"type": "string"}}
_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"type": "object"}}}}
# The body is read whole and parsed here, not declared as a parameter, so OpenAPI is told.
_DATASET_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "CSV with a header row, or NDJSON with one JSON object a line; `key` names the "
            "column lookups match on. The upload replaces the dataset; a bad line stores nothing."
        ),
        "content": {Format.CSV: _TEXT, Format.NDJSON: _TEXT},
    }
}
Name = Annotated[DatasetName, Path(description="the dataset's name, as lookup rules give it")]
# A client reading its own reference data (an API key: jobs:write or results:read).
DatasetReader = Annotated[
    ClientPrincipal, Depends(current_client(KeyScope.JOBS_WRITE, KeyScope.RESULTS_READ))
]


@router.put(
    "/reference-datasets/{name}",
    tags=["reference data"],
    openapi_extra=_DATASET_BODY,
    responses={415: _PROBLEM, 422: _PROBLEM},
)
async def put_reference_dataset(
    name: Name,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
    key: Annotated[str, Query(min_length=1, max_length=100, description="the key column")],
    content_type: Annotated[str | None, Header()] = None,
) -> ReferenceDatasetOut:
    """Upload a reference dataset (CSV or NDJSON) that lookup rules check entries against."""
    media_type = Format(media.content_type(content_type, list(Format), what="a dataset"))
    # Parsing a large upload is CPU work: off the event loop, so other requests keep moving.
    table = await run_in_threadpool(parse, await request.body(), media_type, key)
    dataset = await reference.replace(session, client.client_id, name, key, table)
    audit.summarize(session, rows=dataset.row_count, columns=len(dataset.columns))
    return dataset


@router.get("/reference-datasets", tags=["reference data"])
async def list_reference_datasets(
    session: SessionDep, scope: ClientScope
) -> list[ReferenceDatasetOut]:
    """The reference datasets a client has uploaded (a manager sees every client's)."""
    return await reference.all_of(session, scope)


@router.get("/reference-datasets/{name}", tags=["reference data"])
async def get_reference_dataset(
    name: Name, session: SessionDep, client: DatasetReader
) -> ReferenceDatasetOut:
    """One of your reference datasets: its key, columns and size."""
    return await reference.get(session, client.client_id, name)


@router.get("/reference-datasets/{name}/rows/{key:path}", tags=["reference data"])
async def get_reference_row(
    name: Name, key: str, session: SessionDep, client: DatasetReader
) -> dict[str, Any]:
    """The row a lookup finds for a key (case and extra spaces ignored; a key may hold `/`).
    A key that reads as an identifier (an IBAN, a BIC, a VAT number) also finds its row as a
    lookup on a field of that type does: written with separators, or in another spelling."""
    return await reference.find_row(session, client.client_id, name, key)


@router.delete("/reference-datasets/{name}", status_code=204, tags=["reference data"])
async def delete_reference_dataset(name: Name, session: SessionDep, client: CurrentClient) -> None:
    """Delete one of your reference datasets; lookups into it then send items to review."""
    await reference.remove(session, client.client_id, name)
