"""Contractors: who may take which work."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Principal, Role
from bpo_common.clock import utcnow
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_intake import repository
from bpo_intake.models import Contractor, ContractorStatus
from bpo_intake.schemas import ContractorCreate, ContractorOut


def _out(contractor: Contractor) -> ContractorOut:
    return ContractorOut.model_validate(contractor, from_attributes=True)


async def create(session: AsyncSession, command: ContractorCreate) -> ContractorOut:
    contractor = Contractor(
        id=new_id(),
        name=command.name,
        skills=sorted(set(command.skills)),
        status=ContractorStatus.ACTIVE,
        status_reason=None,
        created_at=utcnow(),
    )
    await repository.add_contractor(session, contractor)
    return _out(contractor)


async def list_page(session: AsyncSession, page: PageRequest) -> Page[ContractorOut]:
    return make_page(await repository.list_contractors(session, page), page, _out)


async def get(session: AsyncSession, contractor_id: UUID, caller: Principal) -> ContractorOut:
    visible = caller.role is Role.MANAGER or (
        caller.role is Role.CONTRACTOR and caller.subject == str(contractor_id)
    )
    contractor = await repository.get_contractor(session, contractor_id) if visible else None
    if contractor is None:
        raise NotFound(f"no contractor {contractor_id}")
    return _out(contractor)


async def suspend(session: AsyncSession, contractor_id: UUID, reason: str) -> ContractorOut:
    return await _set_status(session, contractor_id, ContractorStatus.SUSPENDED, reason)


async def activate(session: AsyncSession, contractor_id: UUID) -> ContractorOut:
    return await _set_status(session, contractor_id, ContractorStatus.ACTIVE, None)


async def _set_status(
    session: AsyncSession, contractor_id: UUID, status: ContractorStatus, reason: str | None
) -> ContractorOut:
    contractor = await repository.get_contractor(session, contractor_id)
    if contractor is None:
        raise NotFound(f"no contractor {contractor_id}")
    contractor.status = status
    contractor.status_reason = reason
    await session.flush()
    return _out(contractor)
