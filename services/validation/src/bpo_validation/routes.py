"""HTTP routes of the validation service."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from bpo_common.auth import ClientOrManager, CurrentClient, CurrentPrincipal
from bpo_common.db import SessionDep
from bpo_common.errors import PROBLEM_JSON
from bpo_common.rules.spec import DatasetName
from bpo_common.text import CheckedRoute
from bpo_validation import reference, service
from bpo_validation.schemas import (
    CheckRequest,
    CheckResponse,
    ItemDecision,
    JobRulesOut,
    Quality,
    ReferenceDatasetOut,
)

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.post("/check", tags=["rules"])
async def check(body: CheckRequest, _: CurrentPrincipal) -> CheckResponse:
    """Dry-run the rule engine: check and normalize one record against field specs."""
    return service.dry_run(body)


@router.get("/jobs/{job_id}/rules", tags=["jobs"])
async def get_job_rules(job_id: UUID, session: SessionDep, caller: ClientOrManager) -> JobRulesOut:
    """The field rules and QC policy validation applies to a job's entries."""
    rules = await service.job_rules(session, job_id, caller.scope())
    return JobRulesOut.model_validate(rules, from_attributes=True)


@router.get("/items/{item_id}/decision", tags=["decisions"])
async def get_decision(item_id: UUID, session: SessionDep, caller: ClientOrManager) -> ItemDecision:
    """The entries of an item, how they compare field by field, and the decision with its reason."""
    return await service.item_decision(session, item_id, caller.scope())


@router.get("/contractors/{contractor_id}/quality", tags=["quality"])
async def get_quality(
    contractor_id: UUID, session: SessionDep, caller: CurrentPrincipal
) -> Quality:
    """A contractor's accuracy overall, per field and work type, on control items, and by day."""
    return await service.quality(session, contractor_id, caller)


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
        "content": {reference.Format.CSV: _TEXT, reference.Format.NDJSON: _TEXT},
    }
}
Name = Annotated[DatasetName, Path(description="the dataset's name, as lookup rules give it")]


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
    media = reference.media_format(content_type)
    # Parsing a large upload is CPU work: off the event loop, so other requests keep moving.
    table = await run_in_threadpool(reference.parse, await request.body(), media, key)
    dataset = await reference.replace(session, client.client_id, name, key, table)
    return ReferenceDatasetOut.model_validate(dataset)


@router.get("/reference-datasets", tags=["reference data"])
async def list_reference_datasets(
    session: SessionDep, caller: ClientOrManager
) -> list[ReferenceDatasetOut]:
    """The reference datasets a client has uploaded (a manager sees every client's)."""
    datasets = await reference.all_of(session, caller.scope())
    return [ReferenceDatasetOut.model_validate(dataset) for dataset in datasets]


@router.get("/reference-datasets/{name}", tags=["reference data"])
async def get_reference_dataset(
    name: Name, session: SessionDep, client: CurrentClient
) -> ReferenceDatasetOut:
    """One of your reference datasets: its key, columns and size."""
    return ReferenceDatasetOut.model_validate(await reference.get(session, client.client_id, name))


@router.get("/reference-datasets/{name}/rows/{key}", tags=["reference data"])
async def get_reference_row(
    name: Name, key: str, session: SessionDep, client: CurrentClient
) -> dict[str, Any]:
    """The row a lookup finds for a key (case and extra spaces ignored)."""
    return await reference.find_row(session, client.client_id, name, key)


@router.delete("/reference-datasets/{name}", status_code=204, tags=["reference data"])
async def delete_reference_dataset(name: Name, session: SessionDep, client: CurrentClient) -> None:
    """Delete one of your reference datasets; lookups into it then send items to review."""
    await reference.remove(session, client.client_id, name)
