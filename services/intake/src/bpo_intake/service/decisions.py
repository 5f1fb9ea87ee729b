"""What intake does with validation's decisions about items and contractors.

A decision about an item that is gone, or already final, changes nothing: decisions arrive
at least once.
"""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import TaskKind, validation
from bpo_common.contracts.intake import ItemCompleted, ItemRejected
from bpo_common.outbox import publish
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.jobs import FINAL, ItemStatus
from bpo_intake.domain.tasks import new_task, review_skills
from bpo_intake.domain.webhooks import WebhookEvent
from bpo_intake.models import Item, Job
from bpo_intake.repository import contractors as contractors_repository
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.service import jobs, webhooks

ItemDecision = (
    validation.ItemAccepted
    | validation.ItemRejected
    | validation.ReviewRequired
    | validation.SecondKeyingRequired
)


async def decide_item(session: AsyncSession, decision: ItemDecision) -> None:
    """Apply validation's decision about an item, with the item and its job locked."""
    found = await _open_item(session, decision.item_id)
    if found is None:
        return
    item, job = found
    match decision:
        case validation.ItemAccepted():
            await _accept(session, item, job, decision)
        case validation.ItemRejected():
            await _reject(session, item, job, decision)
        case validation.ReviewRequired():
            await _review(session, item, job, decision)
        case validation.SecondKeyingRequired():
            # Another entry task for the item, which its first keyer cannot claim.
            task = new_task(job, item.id, TaskKind.ENTRY, decision.decided_at)
            await tasks_repository.add_tasks(session, [task])


async def _accept(
    session: AsyncSession, item: Item, job: Job, decision: validation.ItemAccepted
) -> None:
    """The item is completed with the decided result."""
    item.result = decision.result
    completed = ItemCompleted(
        item_id=item.id,
        job_id=job.id,
        client_id=job.client_id,
        work_type=job.work_type,
        golden=item.golden is not None,
        fields=len(job.fields),
        result=decision.result,
        completed_at=decision.decided_at,
    )
    await _finish(session, item, job, ItemStatus.COMPLETED, decision.decided_at, completed)


async def _reject(
    session: AsyncSession, item: Item, job: Job, decision: validation.ItemRejected
) -> None:
    """The item is rejected; the client hears why by webhook."""
    await webhooks.enqueue(
        session,
        job.client_id,
        WebhookEvent.ITEM_REJECTED,
        {
            "job_id": job.id,
            "item_id": item.id,
            "external_id": item.external_id,
            "reason": decision.reason,
            "rejected_at": decision.decided_at,
        },
    )
    rejected = ItemRejected(
        item_id=item.id,
        job_id=job.id,
        client_id=job.client_id,
        work_type=job.work_type,
        reason=decision.reason,
        rejected_at=decision.decided_at,
    )
    await _finish(session, item, job, ItemStatus.REJECTED, decision.decided_at, rejected)


async def _review(
    session: AsyncSession, item: Item, job: Job, decision: validation.ReviewRequired
) -> None:
    """A review or adjudication task that only contractors with the qc skill can claim."""
    item.status = ItemStatus.IN_REVIEW
    task = new_task(
        job,
        item.id,
        decision.kind,
        decision.decided_at,
        required_skills=review_skills(job.required_skills),
        entries=[entry.model_dump(mode="json") for entry in decision.entries],
    )
    await tasks_repository.add_tasks(session, [task])


async def suspend_contractor(
    session: AsyncSession, decision: validation.ContractorSuspended
) -> None:
    """The contractor gets no more work; the reason is kept and shown."""
    contractor = await contractors_repository.get_contractor(session, decision.contractor_id)
    if contractor is not None:
        contractor.status = ContractorStatus.SUSPENDED
        contractor.status_reason = decision.reason


async def _finish(
    session: AsyncSession,
    item: Item,
    job: Job,
    status: ItemStatus,
    decided_at: datetime,
    event: ItemCompleted | ItemRejected,
) -> None:
    """The item's final status, the event that says so, and the job's completion if it was
    the job's last open item. A final item waits for no manager."""
    item.status = status
    item.completed_at = decided_at
    item.flagged_reason = None
    await publish(session, event, client_id=job.client_id)
    await jobs.complete_if_done(session, job)


async def _open_item(session: AsyncSession, item_id: UUID) -> tuple[Item, Job] | None:
    """The item and its job, both locked, unless the item is gone or already final."""
    item = await items_repository.get_item_for_update(session, item_id)
    if item is None:
        return None
    job = await jobs_repository.get_job_for_update(session, item.job_id)
    if job is None or item.status in FINAL:
        return None
    return item, job
