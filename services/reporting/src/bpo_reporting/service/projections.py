"""Events in: each merges into its fact, then adds to the rollups what the domain says.

Events arrive in any order and some more than once. Facts merge (each column comes from one
kind of event), and a rollup moves only when a fact changed state, so the final numbers do
not depend on the order or on repeats. A turnaround needs both the receipt and the
completion: whichever arrives second settles it.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import billing, intake, validation
from bpo_reporting.domain import projections as domain
from bpo_reporting.domain.projections import LedgerKind
from bpo_reporting.repository import projections as repository

ItemEvent = (
    intake.ItemCompleted | intake.ItemRejected | intake.TaskSubmitted | validation.ContractorScored
)


async def record_job(session: AsyncSession, event: intake.JobCreated) -> None:
    await repository.upsert_job(
        session,
        event.job_id,
        event.client_id,
        work_type=event.work_type,
        due_at=event.due_at,
        created_at=event.created_at,
    )


async def record_items(session: AsyncSession, event: intake.ItemsReceived) -> None:
    rows = [
        {
            "item_id": item.item_id,
            "job_id": event.job_id,
            "client_id": event.client_id,
            "work_type": event.work_type,
            "golden": item.golden,
            "received_at": event.received_at,
        }
        for item in event.items
    ]
    received = await repository.receive_items(session, rows)
    if received:
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, received=len(received)
        )
    # Items whose completion arrived first get their turnaround now.
    settled = await repository.settle_turnarounds(
        session, [item_id for item_id, completed_at in received if completed_at is not None]
    )
    await repository.increment(
        session, domain.items_received(event, len(received)) + domain.turnarounds(settled)
    )


def _item(event: ItemEvent) -> dict[str, Any]:
    """The columns that place an item: its job, client and work type."""
    return {
        "item_id": event.item_id,
        "job_id": event.job_id,
        "client_id": event.client_id,
        "work_type": event.work_type,
    }


def _task(event: intake.TaskSubmitted | validation.ContractorScored) -> dict[str, Any]:
    """The columns that place a task: its item, contractor and kind."""
    return {
        **_item(event),
        "task_id": event.task_id,
        "contractor_id": event.contractor_id,
        "kind": event.kind,
    }


async def record_item_completed(session: AsyncSession, event: intake.ItemCompleted) -> None:
    first = await repository.finish_item(
        session,
        "completed_at",
        **_item(event),
        golden=event.golden,
        completed_at=event.completed_at,
    )
    settled: list[domain.Settled] = []
    if first:
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, completed=1
        )
        settled = await repository.settle_turnarounds(session, [event.item_id])
    await repository.increment(
        session, domain.item_completed(event, first) + domain.turnarounds(settled)
    )


async def record_item_rejected(session: AsyncSession, event: intake.ItemRejected) -> None:
    first = await repository.finish_item(
        session, "rejected_at", **_item(event), rejected_at=event.rejected_at
    )
    if first:
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, rejected=1
        )
    await repository.increment(session, domain.item_rejected(event, first))


async def record_job_closed(session: AsyncSession, event: intake.JobClosed) -> None:
    await repository.upsert_job(session, event.job_id, event.client_id, closed_at=event.closed_at)


async def record_job_cancelled(session: AsyncSession, event: intake.JobCancelled) -> None:
    await repository.upsert_job(
        session, event.job_id, event.client_id, cancelled_at=event.cancelled_at
    )


async def record_job_completed(session: AsyncSession, event: intake.JobCompleted) -> None:
    first = await repository.upsert_job(
        session,
        event.job_id,
        event.client_id,
        work_type=event.work_type,
        completed_at=event.completed_at,
    )
    await repository.increment(session, domain.job_completed(event, first))


async def record_task_submitted(session: AsyncSession, event: intake.TaskSubmitted) -> None:
    await repository.claim_item(session, event.claimed_at, **_item(event))
    first = await repository.upsert_task(
        session,
        "submitted_at",
        **_task(event),
        claimed_at=event.claimed_at,
        submitted_at=event.submitted_at,
    )
    await repository.increment(session, domain.task_submitted(event, first))


async def record_task_expired(session: AsyncSession, event: intake.TaskExpired) -> None:
    await repository.increment(session, domain.task_expired(event))


async def record_contractor_scored(
    session: AsyncSession, event: validation.ContractorScored
) -> None:
    first = await repository.upsert_task(
        session,
        "outcome",
        **_task(event),
        outcome=event.outcome,
        fields_judged=event.fields_judged,
        fields_correct=event.fields_correct,
        decided_at=event.decided_at,
    )
    await repository.increment(session, domain.contractor_scored(event, first))


async def record_usage(session: AsyncSession, event: billing.UsageRecorded) -> None:
    first = await repository.add_ledger_entry(
        session, event.usage_id, LedgerKind.USAGE, event.amount, event.currency
    )
    await repository.increment(session, domain.usage_recorded(event, first))


async def record_earning(session: AsyncSession, event: billing.EarningRecorded) -> None:
    first = await repository.add_ledger_entry(
        session, event.earning_id, LedgerKind.EARNING, event.amount, event.currency
    )
    await repository.increment(session, domain.earning_recorded(event, first))
