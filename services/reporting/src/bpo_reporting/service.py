"""Use cases of the reporting service: fold events into read models, answer reports."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts.intake import ItemsReceived, JobCreated
from bpo_common.errors import FieldError, Invalid
from bpo_reporting import repository
from bpo_reporting.models import ItemFact, JobFact
from bpo_reporting.schemas import Overview

MAX_RANGE = timedelta(days=366)


async def record_job(session: AsyncSession, event: JobCreated) -> None:
    await repository.add_job(
        session,
        JobFact(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            due_at=event.due_at,
            created_at=event.created_at,
        ),
    )


async def record_items(session: AsyncSession, event: ItemsReceived) -> None:
    await repository.add_items(
        session,
        [
            ItemFact(
                item_id=item.item_id,
                job_id=event.job_id,
                client_id=event.client_id,
                work_type=event.work_type,
                golden=item.golden,
                received_at=event.received_at,
            )
            for item in event.items
        ],
    )
    await repository.add_to_rollup(
        session, event.client_id, event.work_type, hour_of(event.received_at), len(event.items)
    )


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def check_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise Invalid("from must be before to", errors=[FieldError("from", "must be before to")])
    if end - start > MAX_RANGE:
        raise Invalid(
            f"the period may span at most {MAX_RANGE.days} days",
            errors=[FieldError("from", f"at most {MAX_RANGE.days} days before to")],
        )


async def overview(
    session: AsyncSession, start: datetime, end: datetime, client_id: UUID | None = None
) -> Overview:
    check_period(start, end)
    received = await repository.sum_items_received(session, hour_of(start), end, client_id)
    return Overview(
        period_from=start,
        period_to=end,
        items_received=received,
        items_completed=0,
        backlog=received,
        turnaround_p50_s=None,
        turnaround_p90_s=None,
        sla_met_ratio=None,
        accuracy=None,
        revenue=None,
        contractor_cost=None,
        margin=None,
        currency=None,
    )
