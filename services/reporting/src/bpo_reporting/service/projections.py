"""Events in: each merges into its fact, then adds to the rollups what the domain says.

Events arrive in any order and some more than once. Facts merge (each column comes from one
kind of event), and a rollup moves only when a fact changed state, so the final numbers do
not depend on the order or on repeats. A turnaround needs both the receipt and the
completion: whichever arrives second settles it.
"""

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import billing, intake, validation
from bpo_common.inbox import first_of_each
from bpo_reporting.domain import projections as domain
from bpo_reporting.domain.projections import Increment, LedgerKind
from bpo_reporting.models import JobAccuracyFact
from bpo_reporting.repository import exceptions
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
    """The client's items (controls copied in at claims and for qualifications are not)."""
    event = event.model_copy(
        update={"items": [item for item in event.items if not item.control_copy]}
    )
    if not event.items:
        return
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
        counts = domain.JobItems(
            event.job_id, event.client_id, event.work_type, received=len(received)
        )
        await repository.add_job_items(session, [counts])
    # Items whose completion arrived first get their turnaround now.
    settled = await repository.settle_turnarounds(
        session, [item_id for item_id, completed_at in received if completed_at is not None]
    )
    await repository.increment(
        session, domain.items_received(event, len(received)) + domain.turnarounds(settled)
    )


async def record_documents(session: AsyncSession, event: intake.DocumentsAdded) -> None:
    if not await repository.note_upload(session, event.job_id, event.added_at):
        return
    counts = domain.JobItems(
        event.job_id,
        event.client_id,
        event.work_type,
        documents=event.documents,
        pages=event.pages,
    )
    await repository.add_job_items(session, [counts])


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


async def record_items_completed(session: AsyncSession, events: list[intake.ItemCompleted]) -> None:
    events = first_of_each(
        [event for event in events if not event.control_copy], lambda e: e.item_id
    )
    rows = [{**_item(e), "golden": e.golden, "completed_at": e.completed_at} for e in events]
    first = await repository.finish_items(session, "completed_at", rows)
    await exceptions.end_of_items(session, [event.item_id for event in events])
    done = [event for event in events if event.item_id in first]
    await repository.add_job_items(session, domain.finished_per_job(done))
    settled = await repository.settle_turnarounds(session, [event.item_id for event in done])
    increments = [i for e in events for i in domain.item_completed(e, e.item_id in first)]
    await repository.increment(session, increments + domain.turnarounds(settled))


async def record_items_rejected(session: AsyncSession, events: list[intake.ItemRejected]) -> None:
    events = first_of_each(
        [event for event in events if not event.control_copy], lambda e: e.item_id
    )
    # An item closed by its data's erasure is kept apart from the rejected ones.
    first: set[UUID] = set()
    for column, erased in (("rejected_at", False), ("erased_at", True)):
        rows = [{**_item(e), column: e.rejected_at} for e in events if e.erased is erased]
        first |= await repository.finish_items(session, column, rows)
    await exceptions.end_of_items(session, [event.item_id for event in events])
    done = [event for event in events if event.item_id in first]
    await repository.add_job_items(session, domain.finished_per_job(done))
    increments = [i for e in events for i in domain.item_rejected(e, e.item_id in first)]
    await repository.increment(session, increments)


async def record_exceptions_opened(
    session: AsyncSession, events: list[validation.ExceptionOpened]
) -> None:
    """Items that wait for their client to resolve an exception: none of the keyers' work,
    until it is resolved or the item finished."""
    rows = [
        {
            "exception_id": event.exception_id,
            "job_id": event.job_id,
            "item_id": event.item_id,
            "opened_at": event.opened_at,
        }
        for event in events
    ]
    await exceptions.note_opened(session, rows)


async def record_exceptions_resolved(
    session: AsyncSession, events: list[validation.ExceptionResolved]
) -> None:
    await exceptions.end(session, [event.exception_id for event in events])


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


async def record_job_accuracy(
    session: AsyncSession, event: validation.JobAccuracyDelivered
) -> None:
    await repository.record_job_accuracy(session, JobAccuracyFact(**event.model_dump()))


async def record_tasks_submitted(session: AsyncSession, events: list[intake.TaskSubmitted]) -> None:
    claims: dict[UUID, dict[str, Any]] = {}
    for event in events:
        known = claims.get(event.item_id)
        if known is None or event.claimed_at < known["first_claimed_at"]:
            claims[event.item_id] = {**_item(event), "first_claimed_at": event.claimed_at}
    await repository.claim_items(session, list(claims.values()))
    events = first_of_each(events, lambda event: event.task_id)
    rows = [
        {**_task(e), "claimed_at": e.claimed_at, "submitted_at": e.submitted_at} for e in events
    ]
    first = await repository.upsert_tasks(session, "submitted_at", rows)
    increments = [i for e in events for i in domain.task_submitted(e, e.task_id in first)]
    await repository.increment(session, increments)


async def record_tasks_expired(session: AsyncSession, events: list[intake.TaskExpired]) -> None:
    events = first_of_each(events, domain.expiry)
    first = await repository.add_expiries(session, [domain.expiry(event) for event in events])
    increments = [i for e in events for i in domain.task_expired(e, domain.expiry(e) in first)]
    await repository.increment(session, increments)


async def record_contractors_scored(
    session: AsyncSession, events: list[validation.ContractorScored]
) -> None:
    events = first_of_each(events, lambda event: event.task_id)
    rows = [
        {
            **_task(event),
            "outcome": event.outcome,
            "fields_judged": event.fields_judged,
            "fields_correct": event.fields_correct,
            "decided_at": event.decided_at,
        }
        for event in events
    ]
    first = await repository.upsert_tasks(session, "outcome", rows)
    increments = [i for e in events for i in domain.contractor_scored(e, e.task_id in first)]
    await repository.increment(session, increments)


async def record_usages(session: AsyncSession, events: list[billing.UsageRecorded]) -> None:
    await _record_ledger(
        session, LedgerKind.USAGE, events, lambda e: e.usage_id, domain.usage_recorded
    )


async def record_earnings(session: AsyncSession, events: list[billing.EarningRecorded]) -> None:
    await _record_ledger(
        session, LedgerKind.EARNING, events, lambda e: e.earning_id, domain.earning_recorded
    )


Priced = TypeVar("Priced", billing.UsageRecorded, billing.EarningRecorded)


async def _record_ledger(
    session: AsyncSession,
    kind: LedgerKind,
    events: list[Priced],
    key: Callable[[Priced], UUID],
    increments_of: Callable[[Priced, bool], list[Increment]],
) -> None:
    """Keep each priced usage line or earning once in the ledger; its first copy adds to the
    rollups."""
    entries = [(key(event), event.amount, event.currency) for event in events]
    first = await repository.add_ledger_entries(session, kind, entries)
    new = first_of_each(events, key)
    increments = [i for e in new for i in increments_of(e, key(e) in first)]
    await repository.increment(session, increments)
