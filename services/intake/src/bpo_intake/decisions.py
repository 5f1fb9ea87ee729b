"""What intake does with validation's decisions about items and contractors."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import TaskKind, validation
from bpo_common.contracts.intake import ItemCompleted, ItemRejected
from bpo_common.outbox import publish
from bpo_intake import repository, service, webhooks
from bpo_intake.models import ContractorStatus, Item, ItemStatus, Job

QC_SKILL = "qc"
FINAL = (ItemStatus.COMPLETED, ItemStatus.REJECTED)


async def accept_item(session: AsyncSession, decision: validation.ItemAccepted) -> None:
    item, job = await _item_and_job(session, decision.item_id)
    if item is None or job is None or item.status in FINAL:
        return
    item.status = ItemStatus.COMPLETED
    item.result = decision.result
    item.completed_at = decision.decided_at
    await publish(
        session,
        ItemCompleted(
            item_id=item.id,
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            golden=item.golden is not None,
            fields=len(job.fields),
            result=decision.result,
            completed_at=decision.decided_at,
        ),
        client_id=job.client_id,
    )
    await service.complete_if_done(session, job)


async def reject_item(session: AsyncSession, decision: validation.ItemRejected) -> None:
    item, job = await _item_and_job(session, decision.item_id)
    if item is None or job is None or item.status in FINAL:
        return
    item.status = ItemStatus.REJECTED
    item.completed_at = decision.decided_at
    await publish(
        session,
        ItemRejected(
            item_id=item.id,
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            reason=decision.reason,
            rejected_at=decision.decided_at,
        ),
        client_id=job.client_id,
    )
    await webhooks.enqueue(
        session,
        job.client_id,
        "item.rejected",
        {
            "job_id": job.id,
            "item_id": item.id,
            "external_id": item.external_id,
            "reason": decision.reason,
            "rejected_at": decision.decided_at,
        },
    )
    await service.complete_if_done(session, job)


async def require_review(session: AsyncSession, decision: validation.ReviewRequired) -> None:
    """A review or adjudication task that only contractors with the qc skill can claim."""
    item, job = await _item_and_job(session, decision.item_id)
    if item is None or job is None or item.status in FINAL:
        return
    item.status = ItemStatus.IN_REVIEW
    await repository.add_tasks(
        session,
        [
            service.task_row(
                job,
                item.id,
                TaskKind(decision.kind),
                decision.decided_at,
                required_skills=sorted({*job.required_skills, QC_SKILL}),
                entries=[entry.model_dump(mode="json") for entry in decision.entries],
            )
        ],
    )


async def require_second_keying(
    session: AsyncSession, decision: validation.SecondKeyingRequired
) -> None:
    item, job = await _item_and_job(session, decision.item_id)
    if item is None or job is None or item.status in FINAL:
        return
    await repository.add_tasks(
        session, [service.task_row(job, item.id, TaskKind.ENTRY, decision.decided_at)]
    )


async def suspend_contractor(
    session: AsyncSession, decision: validation.ContractorSuspended
) -> None:
    contractor = await repository.get_contractor(session, decision.contractor_id)
    if contractor is not None:
        contractor.status = ContractorStatus.SUSPENDED
        contractor.status_reason = decision.reason


async def _item_and_job(session: AsyncSession, item_id: UUID) -> tuple[Item | None, Job | None]:
    item = await repository.get_item_for_update(session, item_id)
    if item is None:
        return None, None
    job = await repository.get_job_for_update(session, item.job_id)
    return item, job
