"""Contractors: who may take which work."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common import audit
from bpo_common.clock import utcnow
from bpo_common.contracts.intake import ContractorReactivated
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_common.outbox import publish
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_intake.domain.contractors import ContractorStatus, refuse_unless_active
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Contractor
from bpo_intake.repository import claims as claims_repository
from bpo_intake.repository import contractors as repository
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import tasks as tasks_repository
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


async def set_skills(
    session: AsyncSession, contractor_id: UUID, skills: list[str]
) -> ContractorOut:
    """Give the contractor these skills, all of them (one left out is taken away; tasks they
    hold stay theirs)."""
    contractor = await repository.set_skills(session, contractor_id, sorted(set(skills)))
    if contractor is None:
        raise NotFound(f"no contractor {contractor_id}")
    audit.summarize(session, skills=contractor.skills)
    return _out(contractor)


async def list_page(session: AsyncSession, page: PageRequest) -> Page[ContractorOut]:
    return make_page(await repository.list_contractors(session, page), page, _out)


async def get(session: AsyncSession, contractor_id: UUID) -> ContractorOut:
    return _out(await _contractor(session, contractor_id))


async def suspend(session: AsyncSession, contractor_id: UUID, reason: str) -> ContractorOut:
    suspended = await _set_status(session, contractor_id, ContractorStatus.SUSPENDED, reason)
    await let_go_of_leases(session, contractor_id)
    return suspended


async def refuse_unless_working(session: AsyncSession, contractor_id: UUID) -> None:
    """Forbidden, saying why, for a contractor who is unknown or suspended (as stored now,
    not as the session read them before)."""
    contractor = await repository.get_contractor(session, contractor_id, fresh=True)
    refuse_unless_active(
        contractor.status if contractor else None,
        contractor.status_reason if contractor else None,
    )


async def let_go_of_leases(session: AsyncSession, contractor_id: UUID) -> None:
    """The contractor's tasks go back to the queue at once: a suspended one's (they may
    neither submit nor give them back, and their leases would run out one by one, each
    counted an expiry), or one's who signs out of the workbench; a control copy is withdrawn,
    as the lease sweep withdraws it."""
    # A claim under way would lease more after this looked (its statement saw them active).
    await claims_repository.wait_for_claims(session, contractor_id)
    held = await tasks_repository.leases_of(session, contractor_id)
    copies = await items_repository.control_copies(session, [task.item_id for task in held])
    for task in held:
        task.status = TaskStatus.CANCELLED if task.item_id in copies else TaskStatus.QUEUED
        task.contractor_id, task.lease_expires_at = None, None


async def activate(session: AsyncSession, contractor_id: UUID) -> ContractorOut:
    """Give the contractor work again; a suspended one is announced as reactivated, so that
    validation judges them afresh (and may suspend them again)."""
    contractor = await _contractor(session, contractor_id)
    if contractor.status is ContractorStatus.SUSPENDED:
        reactivated = ContractorReactivated(contractor_id=contractor_id, reactivated_at=utcnow())
        contractor.reactivated_at = reactivated.reactivated_at
        await publish(session, reactivated)
    return await _set_status(session, contractor_id, ContractorStatus.ACTIVE, None)


async def _set_status(
    session: AsyncSession, contractor_id: UUID, status: ContractorStatus, reason: str | None
) -> ContractorOut:
    contractor = await _contractor(session, contractor_id)
    audit.summarize(session, before=contractor.status, after=status)
    contractor.status = status
    contractor.status_reason = reason
    return _out(contractor)


async def _contractor(session: AsyncSession, contractor_id: UUID) -> Contractor:
    contractor = await repository.get_contractor(session, contractor_id)
    if contractor is None:
        raise NotFound(f"no contractor {contractor_id}")
    return contractor
