"""Contractors: managers register, suspend and reinstate them."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from bpo_common import audit
from bpo_common.auth import Ops, Scope, the_contractor_or_a_manager
from bpo_common.db import SessionDep
from bpo_common.idempotency import IdempotencyDep
from bpo_common.pagination import Page, PageDep
from bpo_common.text import CheckedRoute
from bpo_intake.schemas import AttemptOut, ContractorCreate, ContractorOut, Skill, StatusReason
from bpo_intake.service import contractors, qualifications

router = APIRouter(prefix="/v1/contractors", tags=["contractors"], route_class=CheckedRoute)

# The path's contractor_id, for a manager or that contractor; another contractor hears it is
# unknown.
OwnContractorId = Annotated[
    UUID, Depends(the_contractor_or_a_manager("no contractor {contractor_id}", Scope.OPS))
]


@router.post("", status_code=201, response_model=ContractorOut)
async def create_contractor(
    body: ContractorCreate, session: SessionDep, _: Ops, idempotency: IdempotencyDep
) -> JSONResponse:
    """Register a contractor with skills; the `qc` skill allows review and adjudication."""
    contractor = await contractors.create(session, body)
    audit.summarize(session, skills=contractor.skills)
    return await idempotency.respond(201, contractor)


@router.get("")
async def list_contractors(session: SessionDep, _: Ops, page: PageDep) -> Page[ContractorOut]:
    """List contractors, oldest first."""
    return await contractors.list_page(session, page)


@router.get("/{contractor_id}")
async def get_contractor(contractor_id: OwnContractorId, session: SessionDep) -> ContractorOut:
    """One contractor, for managers and for that contractor."""
    return await contractors.get(session, contractor_id)


@router.get("/{contractor_id}/qualifications")
async def list_attempts(
    contractor_id: OwnContractorId, session: SessionDep
) -> dict[str, list[AttemptOut]]:
    """The contractor's attempts at work types' qualifications, latest first: under way
    (`pending`), `passed` (the skill was granted) or `failed` (offered again at `retry_at`)."""
    return {"data": await qualifications.attempts(session, contractor_id)}


@router.put("/{contractor_id}/skills")
async def set_skills(
    contractor_id: UUID,
    skills: Annotated[list[Skill], Body(embed=True, max_length=100)],
    session: SessionDep,
    _: Ops,
) -> ContractorOut:
    """Set a contractor's skills, all of them (one left out is taken away): grant a work
    type's qualification skill by hand, or `qc` for review and adjudication."""
    return await contractors.set_skills(session, contractor_id, skills)


@router.post("/{contractor_id}/suspend")
async def suspend(
    contractor_id: UUID, body: StatusReason, session: SessionDep, _: Ops
) -> ContractorOut:
    """Stop giving a contractor work; the reason is kept and shown."""
    return await contractors.suspend(session, contractor_id, body.reason)


@router.post("/{contractor_id}/activate")
async def activate(contractor_id: UUID, session: SessionDep, _: Ops) -> ContractorOut:
    """Give a suspended contractor work again."""
    return await contractors.activate(session, contractor_id)
