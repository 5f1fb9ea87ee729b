"""Price books: a client's prices, versioned by effective date."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from bpo_billing.schemas import PriceBookIn, PriceBookOut, PriceBookVersions
from bpo_billing.service import price_books as service
from bpo_common import audit
from bpo_common.auth import BilledClientId, Finance
from bpo_common.clock import Day, utcnow
from bpo_common.db import SessionDep
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)


@router.put(
    "/price-books/{client_id}",
    status_code=201,
    tags=["price books"],
    responses={422: PROBLEM_RESPONSE},
)
async def put_price_book(
    client_id: UUID, body: PriceBookIn, session: SessionDep, _: Finance
) -> PriceBookOut:
    """Add a new version of a client's prices, in force from its effective date."""
    book = await service.put_price_book(session, client_id, body, utcnow().date())
    audit.summarize(session, version=book.version, fields=sorted(body.model_fields_set))
    return book


@router.get("/price-books/{client_id}", tags=["price books"])
async def get_price_book(
    client_id: BilledClientId,
    session: SessionDep,
    at: Annotated[Day | None, Query(description="the day; default today")] = None,
) -> PriceBookOut:
    """The version of a client's prices in force on a day (today by default)."""
    return await service.price_book_in_force(session, client_id, at or utcnow().date())


@router.get("/price-books/{client_id}/versions", tags=["price books"])
async def list_price_book_versions(
    client_id: BilledClientId, session: SessionDep
) -> PriceBookVersions:
    """Every version of a client's prices, oldest first."""
    return await service.price_book_versions(session, client_id)
