"""Routes of match exceptions: invoices that did not match their purchase order, for the
client's accounts payable (and managers) to resolve."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from bpo_common import audit
from bpo_common.auth import JobsWriter, PersonalData, ResultsScope
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_validation.domain.matching import ExceptionStatus
from bpo_validation.routes.decisions import JobKeysDep
from bpo_validation.schemas import ExceptionOut, ExceptionResolve
from bpo_validation.service import exceptions

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.get("/exceptions", tags=["exceptions"])
async def list_exceptions(
    session: SessionDep,
    scope: ResultsScope,
    page: PageDep,
    personal: PersonalData,
    keys: JobKeysDep,
    status: Annotated[ExceptionStatus | None, Query(description="open or resolved")] = None,
    job_id: Annotated[UUID | None, Query()] = None,
) -> Page[ExceptionOut]:
    """Match exceptions, oldest first, each with its reasons and every line's outcome: a
    client sees its own, a manager every client's."""
    return await exceptions.list_exceptions(
        session, scope, status, job_id, page, keys, personal=personal
    )


@router.get("/exceptions/{exception_id}", tags=["exceptions"])
async def get_exception(
    exception_id: UUID,
    session: SessionDep,
    scope: ResultsScope,
    personal: PersonalData,
    keys: JobKeysDep,
) -> ExceptionOut:
    """One match exception."""
    return await exceptions.get_exception(session, exception_id, scope, keys, personal=personal)


@router.post(
    "/exceptions/{exception_id}/resolve", tags=["exceptions"], responses={409: PROBLEM_RESPONSE}
)
async def resolve_exception(
    exception_id: UUID,
    body: ExceptionResolve,
    session: SessionDep,
    caller: JobsWriter,
    keys: JobKeysDep,
) -> ExceptionOut:
    """Resolve an open exception: `accept` the invoice as keyed, `reject` it, or `correct` it
    with `data` (the fields to change, checked as a keying is). The item completes or is
    rejected; a resolution by the client is billed at the price book's exception rate."""
    resolved = await exceptions.resolve(session, exception_id, caller, body, keys)
    # The names of the fields a correction set, never their values.
    fields = sorted(body.data or {})
    audit.summarize(session, action=body.action, fields=fields, after=resolved.status)
    return resolved
