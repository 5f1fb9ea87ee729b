"""Items: clients append them to open jobs and read them, and their results, back; managers
see the items flagged for them.

Media types live here: the parser an item body needs is chosen by its Content-Type, the
results' format by Accept, and a refused body is read to its end before the answer goes.
"""

from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from bpo_common import audit
from bpo_common.auth import CurrentClient, Ops, PersonalData, ResultsScope
from bpo_common.db import SessionDep, SessionFactoryDep
from bpo_common.errors import DomainError
from bpo_common.idempotency import StreamedIdempotencyDep
from bpo_common.media import attachment, content_type, drain, negotiate
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.ratelimit import ItemCounter
from bpo_common.text import CheckedRoute
from bpo_intake.domain.csv_items import CsvItems
from bpo_intake.domain.item_bodies import JsonItems, NdjsonItems
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.domain.results import CsvTable, JsonArray, JsonLines, ResultRow, ResultsEncoder
from bpo_intake.schemas import ItemOut, ItemsAccepted
from bpo_intake.service import items
from bpo_intake.service.items import ParserFor
from bpo_intake.settings import SettingsDep

router = APIRouter(prefix="/v1", tags=["items"], route_class=CheckedRoute)


class Format(StrEnum):
    """The media types items come in and results go out as."""

    JSON = "application/json"
    NDJSON = "application/x-ndjson"
    CSV = "text/csv"


PARSERS: dict[Format, ParserFor] = {
    Format.JSON: JsonItems,
    Format.NDJSON: NdjsonItems,
    Format.CSV: CsvItems,
}
ENCODERS: dict[Format, type[ResultsEncoder]] = {
    Format.JSON: JsonArray,
    Format.NDJSON: JsonLines,
    Format.CSV: CsvTable,
}

_TEXT = {"schema": {"type": "string"}}

# The body is read as a stream, not declared as a parameter, so OpenAPI is told here.
_ITEMS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            'JSON `{"items": [item]}`; NDJSON, one item a line; or CSV with a header row, '
            "where the `external_id` column, `golden.<field>` columns and a `documents` "
            "column (the item's documents by name or id, `;`-separated) are taken as such "
            "and every other column goes into `source`. At least one item; all are stored, "
            "or none."
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
    count_items: ItemCounter,
    settings: SettingsDep,
) -> JSONResponse:
    """Append items to an open job as JSON, NDJSON or CSV; one bad item and none is stored."""
    chunks = idempotency.body()
    try:
        media_type = content_type(request.headers.get("content-type"), list(Format), "items")
        parser = PARSERS[Format(media_type)]
        accepted = await items.append_items(
            session, job_id, client.client_id, parser, chunks, settings.data_keys(), count_items
        )
    except DomainError:
        # The client hears the refusal instead of having its connection closed mid-upload.
        await drain(chunks)
        raise
    audit.summarize(session, items=accepted)
    return await idempotency.respond(202, ItemsAccepted(accepted=accepted))


@router.get("/jobs/{job_id}/items")
async def list_items(
    job_id: UUID,
    session: SessionDep,
    scope: ResultsScope,
    page: PageDep,
    personal: PersonalData,
    settings: SettingsDep,
    status: Annotated[ItemStatus | None, Query(description="only items in this status")] = None,
) -> Page[ItemOut]:
    """List a job's items, oldest first, optionally only those in one status."""
    keys = settings.data_keys()
    return await items.list_items(session, job_id, scope, status, page, keys, personal=personal)


@router.get(
    "/jobs/{job_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "One record per completed item: item_id, external_id, the fields; in CSV, "
                "one row per row of the item's tables. What an adaptive job delivered is "
                "the job's `accuracy` (GET /v1/jobs/{job_id})"
            ),
            "content": {Format.JSON: {}, Format.NDJSON: _TEXT, Format.CSV: _TEXT},
        },
        406: PROBLEM_RESPONSE,
    },
)
async def get_results(
    job_id: UUID,
    session: SessionDep,
    sessions: SessionFactoryDep,
    scope: ResultsScope,
    personal: PersonalData,
    settings: SettingsDep,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Stream the final data of every completed item as JSON, NDJSON or CSV, as Accept asks."""
    refusal = f"results come as {', '.join(Format)}; Accept allows none"
    chosen = Format(negotiate(accept, list(Format), refusal))
    keys = settings.data_keys()
    results = await items.results(session, sessions, job_id, scope, keys, personal=personal)
    encoder = ENCODERS[chosen](results.fields, results.documents, results.tables)
    encoded = _encoded(encoder, results.rows)
    if chosen is Format.CSV:
        headers = attachment(f"job-{results.job_id}-results.csv")
    else:
        headers = {"Vary": "Accept"}
    return StreamingResponse(encoded, media_type=chosen, headers=headers)


async def _encoded(
    encoder: ResultsEncoder, batches: AsyncIterator[Sequence[ResultRow]]
) -> AsyncIterator[bytes]:
    yield encoder.start().encode()
    first = True
    async for rows in batches:
        yield encoder.rows(rows, first).encode()
        first = False
    yield encoder.end().encode()


@router.get("/items/flagged")
async def flagged_items(
    session: SessionDep, _: Ops, page: PageDep, personal: PersonalData, settings: SettingsDep
) -> Page[ItemOut]:
    """Items flagged for a manager, with the reason (for example leases that kept expiring)."""
    return await items.flagged_items(session, page, settings.data_keys(), personal=personal)


@router.post("/items/{item_id}/requeue", responses={409: PROBLEM_RESPONSE})
async def requeue(
    item_id: UUID, session: SessionDep, _: Ops, personal: PersonalData, settings: SettingsDep
) -> ItemOut:
    """Clear an item's flag; each task given up on (its lease kept expiring) is made afresh
    once, as it was: the fields or entries it showed."""
    return await items.requeue_item(session, item_id, settings.data_keys(), personal=personal)
