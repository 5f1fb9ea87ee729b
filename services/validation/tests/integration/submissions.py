"""A job and submissions on it, handed straight to the use cases, and what they published.

Intake is played by `INTAKE`, which gives validation each job's data key when it asks (and
opens what validation published with it)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from bpo_common import ids
from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import (
    DataErased,
    ItemsReceived,
    JobCancelled,
    JobCompleted,
    JobCreated,
    ReceivedItem,
    Suggested,
    TaskSubmitted,
)
from bpo_common.contracts.validation import JobAccuracyDelivered
from bpo_common.crypto import DataKey, KeyRing, new_data_key
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_devtools.testing import opened, outbox_events
from bpo_validation.repository import jobs as jobs_repository
from bpo_validation.repository import keys as kept_keys
from bpo_validation.service import accuracy, decisions, erasure, jobs, quality
from bpo_validation.service.keys import Ask, JobKeys
from bpo_validation.settings import Settings

FIELDS = [
    {"name": "number", "type": "string"},
    {"name": "total", "type": "decimal"},
    {"name": "currency", "type": "enum", "choices": ["EUR", "USD"], "required": False},
]
SCORED = "bpo.validation.contractor.scored"


class Intake:
    """Intake as validation asks it for jobs' data keys: a job's key is made when it is first
    asked for, and is the same after."""

    def __init__(self) -> None:
        self.wrapped: dict[UUID, str] = {}
        self.keys: dict[UUID, DataKey] = {}

    def asker(self, ring: KeyRing) -> Ask:
        async def ask(job_ids: list[UUID]) -> dict[UUID, str]:
            return {job_id: self.key(ring, job_id) for job_id in job_ids}

        return ask

    def key(self, ring: KeyRing, job_id: UUID) -> str:
        """The job's data key, wrapped."""
        if job_id not in self.wrapped:
            self.keys[job_id], self.wrapped[job_id] = new_data_key(ring, job_id)
        return self.wrapped[job_id]

    def opened(self, envelope: Envelope) -> Envelope:
        """The event with the values it carries sealed opened."""
        job_id = UUID(envelope.data["job_id"]) if "job_id" in envelope.data else None
        key = self.keys.get(job_id) if job_id else None
        return envelope if key is None else opened(envelope, key)


INTAKE = Intake()


def job_keys(settings: Settings) -> JobKeys:
    """Jobs' data keys as validation's consumer has them, asked of `INTAKE`."""
    return JobKeys(settings.data_keys(), INTAKE.asker(settings.key_ring()))


async def give_key(db: SessionFactory, settings: Settings, job_id: UUID) -> None:
    """Validation keeps the job's data key already (as if it had asked for it before)."""
    wrapped = {job_id: INTAKE.key(settings.key_ring(), job_id)}
    async with db() as session, session.begin():
        await kept_keys.add_keys(session, wrapped, datetime.now(UTC))


async def new_job(
    db: SessionFactory,
    fields: list[dict[str, Any]] | None = None,
    match: dict[str, Any] | None = None,
    work_type: str = "invoice",
    client_id: UUID | None = None,
    **qc: Any,
) -> JobCreated:
    created = JobCreated(
        job_id=new_id(),
        client_id=client_id or new_id(),
        work_type=work_type,
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


async def a_thousand_items(db: SessionFactory, job: JobCreated) -> None:
    """Intake's word that `job` has a thousand items, counted as the consumer counts it: the
    size adaptive QC holds the job's delivered accuracy over."""
    received = ItemsReceived(
        job_id=job.job_id,
        client_id=job.client_id,
        work_type=job.work_type,
        items=[ReceivedItem(item_id=new_id(), external_id=None, golden=False)] * 1000,
        received_at=datetime.now(UTC),
    )
    async with db() as session, session.begin():
        await jobs.count_items(session, received)


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
    keyed_fields: list[str] | None = None,
    qualification: bool = False,
    control_copy: bool = False,
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
        keyed_fields=keyed_fields or [],
        entries_expected=expected,
        rejection=rejection,
        qualification=qualification,
        control_copy=control_copy,
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
        await decisions.record_submissions(session, [event], settings, keys=job_keys(settings))
    return event


async def events(db: SessionFactory, item_id: UUID) -> list[Envelope]:
    """Every event published about an item, oldest first, the values it carries opened."""
    return [INTAKE.opened(e) for e in await outbox_events(db, item_id=str(item_id))]


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


def new_item(rate: str, *, sampled: bool, key: bytes = b"", plainly: bool | None = None) -> UUID:
    """A new item id that is, or is not, in the review sample at `rate` of a job of this sample
    key; and, if `plainly` is given, is or is not in the sample the id's plain hash draws."""
    while True:
        candidate = new_id()
        if ids.sampled(candidate, Decimal(rate), key) is not sampled:
            continue
        if plainly is None or ids.sampled(candidate, Decimal(rate)) is plainly:
            return candidate


async def sample_key(db: SessionFactory, job: JobCreated) -> bytes:
    """The secret the job's review sample is drawn with."""
    async with db() as session:
        rules = await jobs_repository.get_job_rules(session, job.job_id, None)
    assert rules is not None
    return rules.sample_key


async def erase(
    db: SessionFactory, settings: Settings, job: JobCreated, items: list[UUID] | None
) -> DataErased:
    """The job (or these of its items) erased in validation, as intake's event says."""
    event = DataErased(
        erasure_id=new_id(),
        job_id=job.job_id,
        client_id=job.client_id,
        item_ids=items,
        requested_at=utcnow(),
    )
    async with db() as session, session.begin():
        await erasure.erase(session, event, keys=job_keys(settings).keys)
    return event


async def cancel(db: SessionFactory, job: JobCreated) -> None:
    """The job cancelled, as intake says it, applied as the consumer applies it."""
    event = JobCancelled(
        job_id=job.job_id, client_id=job.client_id, tasks_withdrawn=1, cancelled_at=utcnow()
    )
    async with db() as session, session.begin():
        await quality.job_cancelled(session, event)


async def accuracy_said(
    db: SessionFactory, settings: Settings, job: JobCreated
) -> dict[str, Any] | None:
    """The job completed, as intake says it: what validation then publishes of its accuracy."""
    mark = new_id()
    completed = JobCompleted(
        job_id=job.job_id,
        client_id=job.client_id,
        work_type=job.work_type,
        due_at=None,
        items_completed=1,
        items_rejected=0,
        completed_at=datetime.now(UTC),
    )
    async with db() as session, session.begin():
        await accuracy.job_completed(session, completed, settings)
    said = [
        envelope.data
        for envelope in await outbox_events(db)
        if envelope.id > mark and envelope.type == JobAccuracyDelivered.event_type
    ]
    assert len(said) <= 1
    return said[0] if said else None
