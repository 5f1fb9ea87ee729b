"""Use cases of the intake service: change state and add events, in the caller's session."""

import secrets
from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import ItemsReceived, JobCreated, ReceivedItem
from bpo_common.errors import Forbidden, NotFound
from bpo_common.ids import new_id
from bpo_common.outbox import publish, publish_many
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_intake import repository
from bpo_intake.models import Client, ItemStatus, Job, JobStatus
from bpo_intake.schemas import ClientCreate, ItemCounts, ItemIn, JobCreate, JobOut

ITEMS_PER_EVENT = 1000

T = TypeVar("T")


def _chunks(rows: Sequence[T], size: int) -> list[Sequence[T]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


async def create_client(session: AsyncSession, command: ClientCreate) -> Client:
    client = Client(
        id=new_id(),
        name=command.name,
        webhook_url=str(command.webhook_url) if command.webhook_url else None,
        webhook_secret="whsec_" + secrets.token_urlsafe(32),
        created_at=utcnow(),
    )
    await repository.add_client(session, client)
    return client


async def create_job(session: AsyncSession, client_id: UUID, command: JobCreate) -> Job:
    if not await repository.client_exists(session, client_id):
        raise Forbidden("this token's client is not registered; ask a manager to create it")
    now = utcnow()
    job = Job(
        id=new_id(),
        client_id=client_id,
        status=JobStatus.OPEN,
        work_type=command.work_type,
        fields=[spec.model_dump(mode="json") for spec in command.fields],
        rules=[],
        qc=command.qc.model_dump(mode="json"),
        priority=command.priority,
        due_at=command.due_at,
        sla_hours=command.sla_hours,
        required_skills=command.required_skills,
        external_ref=command.external_ref,
        created_at=now,
        completed_at=None,
    )
    await repository.add_job(session, job)
    await publish(
        session,
        JobCreated(
            job_id=job.id,
            client_id=client_id,
            work_type=job.work_type,
            fields=job.fields,
            qc=job.qc,
            priority=job.priority,
            due_at=job.due_at,
            sla_hours=job.sla_hours,
            external_ref=job.external_ref,
            created_at=now,
        ),
        client_id=client_id,
    )
    await add_items(session, job, command.items)
    return job


async def add_items(session: AsyncSession, job: Job, items: Sequence[ItemIn]) -> int:
    """Store items of an open job and announce them in events of up to ITEMS_PER_EVENT items."""
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "job_id": job.id,
            "client_id": job.client_id,
            "external_id": item.external_id,
            "status": ItemStatus.PENDING,
            "source": item.source,
            "golden": item.golden,
            "result": None,
            "created_at": now,
            "completed_at": None,
        }
        for item in items
    ]
    await repository.add_items(session, rows)
    events = [
        ItemsReceived(
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            items=[
                ReceivedItem(
                    item_id=row["id"], external_id=row["external_id"], golden=bool(row["golden"])
                )
                for row in chunk
            ],
            received_at=now,
        )
        for chunk in _chunks(rows, ITEMS_PER_EVENT)
    ]
    await publish_many(session, events, client_id=job.client_id)
    return len(rows)


async def get_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job:
    job = await repository.get_job(session, job_id, scope)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def describe_jobs(session: AsyncSession, jobs: Sequence[Job]) -> list[JobOut]:
    """Jobs as the API shows them, with item counts per status and progress."""
    counts = await repository.item_counts(session, [job.id for job in jobs])
    views = []
    for job in jobs:
        by_status = {status.value: n for status, n in counts[job.id].items()}
        total = sum(by_status.values())
        final = by_status.get("completed", 0) + by_status.get("rejected", 0)
        views.append(
            JobOut.model_validate(
                {
                    **{
                        column: getattr(job, column)
                        for column in JobOut.model_fields
                        if hasattr(job, column)
                    },
                    "counts": ItemCounts(**by_status, total=total),
                    "progress": final / total if total else 0.0,
                }
            )
        )
    return views


async def list_jobs(session: AsyncSession, scope: UUID | None, page: PageRequest) -> Page[JobOut]:
    listed = make_page(await repository.list_jobs(session, scope, page), page, lambda job: job.id)
    return Page[JobOut](
        data=await describe_jobs(session, listed.data), next_cursor=listed.next_cursor
    )
