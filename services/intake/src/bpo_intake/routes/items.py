"""Items: clients append them to open jobs and read them, and their results, back."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from bpo_common.auth import ClientOrManager, CurrentClient
from bpo_common.db import SessionDep, SessionFactoryDep
from bpo_common.idempotency import StreamedIdempotencyDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_intake import items
from bpo_intake.items import Format
from bpo_intake.models import ItemStatus
from bpo_intake.schemas import ItemOut, ItemsAccepted

router = APIRouter(prefix="/v1", tags=["items"], route_class=CheckedRoute)

_TEXT = {"schema": {"type": "string"}}

# The body is read as a stream, not declared as a parameter, so OpenAPI is told here.
_ITEMS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            'JSON `{"items": [item]}`; NDJSON, one item a line; or CSV with a header row, '
            "where `external_id` and `golden.<field>` columns are taken as such and every "
            "other column goes into `source`. All items are stored, or none."
        ),
        "content": {
            Format.JSON: {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ItemIn"}}
                    },
                }
            },
            Format.NDJSON: _TEXT,
            Format.CSV: _TEXT,
        },
    }
}


@router.post(
    "/jobs/{job_id}/items",
    status_code=202,
    response_model=ItemsAccepted,
    openapi_extra=_ITEMS_BODY,
    responses={409: PROBLEM_RESPONSE, 415: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
async def append_items(
    job_id: UUID,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
    idempotency: StreamedIdempotencyDep,
) -> JSONResponse:
    """Append items to an open job as JSON, NDJSON or CSV; one bad item and none is stored."""
    accepted = await items.append_items(
        session, job_id, client.client_id, request.headers.get("content-type"), idempotency.body()
    )
    return await idempotency.respond(202, ItemsAccepted(accepted=accepted))


@router.get("/jobs/{job_id}/items")
async def list_items(
    job_id: UUID,
    session: SessionDep,
    caller: ClientOrManager,
    page: PageDep,
    status: Annotated[ItemStatus | None, Query(description="only items in this status")] = None,
) -> Page[ItemOut]:
    """List a job's items, oldest first, optionally only those in one status."""
    return await items.list_items(session, job_id, caller.scope(), status, page)


@router.get(
    "/jobs/{job_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One record per completed item: item_id, external_id, the fields",
            "content": {Format.JSON: {}, Format.NDJSON: _TEXT, Format.CSV: _TEXT},
        },
        406: PROBLEM_RESPONSE,
    },
)
async def get_results(
    job_id: UUID,
    session: SessionDep,
    sessions: SessionFactoryDep,
    caller: ClientOrManager,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Stream the final data of every completed item as JSON, NDJSON or CSV, as Accept asks."""
    export = await items.export_results(session, sessions, job_id, caller.scope(), accept)
    headers = {"Vary": "Accept"}
    if export.media_type is Format.CSV:
        headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return StreamingResponse(export.chunks, media_type=export.media_type, headers=headers)
