"""A job and submissions on it, handed straight to the use cases, and what they published."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common import ids
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import JobCreated, Suggested, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_devtools.testing import outbox_events
from bpo_validation.service import decisions, jobs
from bpo_validation.settings import Settings

FIELDS = [
    {"name": "number", "type": "string"},
    {"name": "total", "type": "decimal"},
    {"name": "currency", "type": "enum", "choices": ["EUR", "USD"], "required": False},
]
SCORED = "bpo.validation.contractor.scored"


async def new_job(
    db: SessionFactory,
    fields: list[dict[str, Any]] | None = None,
    match: dict[str, Any] | None = None,
    **qc: Any,
) -> JobCreated:
    created = JobCreated(
        job_id=new_id(),
        client_id=new_id(),
        work_type="invoice",
        fields=fields or FIELDS,
        rules=[],
        match=match,
        qc={"mode": "single", "review_sample_rate": "0", **qc},
        priority=50,
        due_at=None,
        sla_hours=None,
        external_ref=None,
        created_at=datetime.now(UTC),
    )
    async with db() as session, session.begin():
        await jobs.record_job(session, created)
    return created


def keying(
    job: JobCreated,
    item_id: UUID,
    data: dict[str, Any],
    *,
    kind: TaskKind = TaskKind.ENTRY,
    expected: int = 1,
    golden: dict[str, Any] | None = None,
    client_values: dict[str, Any] | None = None,
    contractor_id: UUID | None = None,
    rejection: str | None = None,
    documents: list[str] | None = None,
    active_seconds: float | None = None,
    suggestions: dict[str, Suggested] | None = None,
    layout_id: UUID | None = None,
) -> TaskSubmitted:
    """A task of the job submitted now, as intake announces it."""
    now = datetime.now(UTC)
    return TaskSubmitted(
        task_id=new_id(),
        job_id=job.job_id,
        item_id=item_id,
        client_id=job.client_id,
        work_type=job.work_type,
        kind=kind,
        contractor_id=contractor_id or new_id(),
        data=data,
        golden=golden,
        client_values=client_values,
        documents=documents or [],
        active_seconds=active_seconds,
        suggestions=suggestions or {},
        layout_id=layout_id,
        entries_expected=expected,
        rejection=rejection,
        claimed_at=now,
        submitted_at=now,
    )


async def submit(
    db: SessionFactory,
    settings: Settings,
    job: JobCreated,
    item_id: UUID,
    data: dict[str, Any],
    **keyed: Any,
) -> TaskSubmitted:
    """A keying (see `keying`) applied as the consumer applies it, in a transaction of its own."""
    event = keying(job, item_id, data, **keyed)
    async with db() as session, session.begin():
        await decisions.record_submissions(session, [event], settings)
    return event


async def events(db: SessionFactory, item_id: UUID) -> list[Envelope]:
    """Every event published about an item, oldest first."""
    return await outbox_events(db, item_id=str(item_id))


async def published(db: SessionFactory, item_id: UUID) -> list[Envelope]:
    """The decisions published about an item."""
    return [e for e in await events(db, item_id) if e.type != SCORED]


async def scored(db: SessionFactory, item_id: UUID) -> dict[str, tuple[str, str, int, int]]:
    """How each task on an item came out: task id -> (kind, outcome, judged, correct)."""
    return {
        e.data["task_id"]: (
            e.data["kind"],
            e.data["outcome"],
            e.data["fields_judged"],
            e.data["fields_correct"],
        )
        for e in await outbox_events(db, SCORED, item_id=str(item_id))
    }


def new_item(rate: str, *, sampled: bool) -> UUID:
    """A new item id that is, or is not, in the review sample at `rate`."""
    while True:
        candidate = new_id()
        if ids.sampled(candidate, Decimal(rate)) is sampled:
            return candidate
