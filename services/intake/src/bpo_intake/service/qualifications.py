"""Qualifications (see domain.qualifications): managers set a work type's, contractors are
given its set at a claim, and validation's judgement of each copy decides the attempt.

The set is the control items of one job of the work type. A copy given in an attempt is a
control of that job, as one injected at a claim is (service.controls): none of the client's
work, not billed, not in results.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.validation import ControlKeying
from bpo_common.crypto import DataKeys
from bpo_common.db import advisory_lock
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.ids import new_id
from bpo_intake.domain.jobs import JobStatus
from bpo_intake.domain.qualifications import AttemptOutcome, Offered, finish
from bpo_intake.domain.tasks import QC_SKILL
from bpo_intake.models import Qualification, QualificationAttempt
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.repository import qualifications as repository
from bpo_intake.schemas import AttemptOut, QualificationIn, QualificationOut
from bpo_intake.service import controls


async def put(session: AsyncSession, work_type: str, body: QualificationIn) -> QualificationOut:
    """Make or replace the work type's qualification; from now on its jobs not yet done, and
    those to come, require its skill (the work type's name)."""
    if work_type == QC_SKILL:
        # Passing would give the reviewers' skill: reviews and adjudications of every client.
        message = f"{QC_SKILL!r} is the reviewers' skill; no work type's qualification gives it"
        raise Invalid(message, errors=[FieldError(field="work_type", message=message)])
    job = await jobs_repository.get_job(session, body.job_id, None)
    if job is None:
        raise _refused(f"no job {body.job_id}")
    if job.work_type != work_type:
        raise _refused(f"job {job.id} is of work type {job.work_type!r}, not {work_type!r}")
    if job.status is JobStatus.CANCELLED:
        raise _refused(f"job {job.id} is cancelled")
    items = await repository.set_size(session, job.id)
    if not items:
        raise _refused(f"job {job.id} has no control items (items with a `golden` answer)")
    # Against jobs of the work type being created meanwhile (service.jobs takes it shared).
    await advisory_lock(session, repository.lock_name(work_type))
    await repository.save(
        session, body.model_dump() | {"work_type": work_type, "updated_at": utcnow()}
    )
    await repository.require_skill(session, work_type)
    return await get(session, work_type)


def _refused(message: str) -> Invalid:
    return Invalid(message, errors=[FieldError(field="job_id", message=message)])


async def get(session: AsyncSession, work_type: str) -> QualificationOut:
    qualification = await repository.get(session, work_type)
    if qualification is None:
        raise NotFound(f"work type {work_type!r} requires no qualification")
    items = await repository.set_size(session, qualification.job_id)
    return QualificationOut.model_validate(
        {
            "work_type": work_type,
            "job_id": qualification.job_id,
            "pass_mark": qualification.pass_mark.normalize(),
            "retry_after_hours": qualification.retry_after_hours,
            "updated_at": qualification.updated_at,
            "items": items,
        }
    )


async def attempts(session: AsyncSession, contractor_id: UUID) -> list[AttemptOut]:
    """The contractor's attempts at qualifications, latest first."""
    found = await repository.attempts_of(session, contractor_id)
    return [AttemptOut.model_validate(attempt, from_attributes=True) for attempt in found]


async def offer(
    session: AsyncSession,
    contractor_id: UUID,
    job_id: UUID | None,
    *,
    lease_until: datetime,
    keys: DataKeys,
    now: datetime,
) -> dict[str, Any] | None:
    """The next item of a qualification the contractor may take now (see
    repository.qualifications.offered), leased to them until `lease_until`, as a claim shows
    a task; None when there is none. One that cannot give an item now (its set's job
    cancelled or being withdrawn, its set empty, or each item of the attempt given already)
    is passed over for the next: it would otherwise keep every other from the contractor."""
    if not await repository.offered(session, contractor_id, job_id, now):
        return None
    # Asked again under the contractor's lock: two claims at once start one attempt.
    await advisory_lock(session, f"qualification:{contractor_id}")
    for offered in await repository.offered(session, contractor_id, job_id, now):
        given = await _give(session, contractor_id, offered, lease_until, keys, now)
        if given is not None:
            return given
    return None


async def _give(
    session: AsyncSession,
    contractor_id: UUID,
    offered: Offered,
    lease_until: datetime,
    keys: DataKeys,
    now: datetime,
) -> dict[str, Any] | None:
    """The next item of the offered qualification, leased to the contractor; None when it
    cannot give one now: among others, once the attempt's copies answered and awaited are as
    many as it counts (its set may have grown under it, or the qualification been put again
    with a larger one: a copy more would be keyed for nothing)."""
    job = await jobs_repository.job_to_add_to(session, offered.job_id)
    if job is None or job.status is JobStatus.CANCELLED:
        return None  # the set's job is being withdrawn, or was cancelled: no copy goes into it
    attempt_id = offered.attempt_id or await _start(session, contractor_id, offered, now)
    if attempt_id is None:
        return None
    attempt = (await repository.attempts_for_update(session, {attempt_id}))[attempt_id]
    awaited = await repository.awaited(session, attempt_id, contractor_id)
    if attempt.answered + awaited >= attempt.items:
        return None
    item = await repository.next_item(session, offered.job_id, attempt_id, contractor_id)
    if item is None:
        await _settle_shrunk(session, attempt, awaited, now)
        return None
    return await controls.give_control(
        session, contractor_id, job, item, keys, now, lease_until=lease_until, attempt_id=attempt_id
    )


async def _start(
    session: AsyncSession, contractor_id: UUID, offered: Offered, now: datetime
) -> UUID | None:
    """A new attempt at the offered qualification, of every item its set has now."""
    items = await repository.set_size(session, offered.job_id)
    if not items:
        return None
    attempt = QualificationAttempt(
        id=new_id(),
        contractor_id=contractor_id,
        work_type=offered.work_type,
        outcome=AttemptOutcome.PENDING,
        items=items,
        answered=0,
        right=0,
        started_at=now,
        finished_at=None,
        retry_at=None,
    )
    await repository.add_attempt(session, attempt)
    return attempt.id


async def _settle_shrunk(
    session: AsyncSession, attempt: QualificationAttempt, awaited: int, now: datetime
) -> None:
    """The attempt's set has no item left to give, though its copies answered and `awaited`
    are fewer than it counts: the set shrank under it (its items erased, or the qualification
    now names a smaller set). The attempt is of those copies, and ends once they are
    answered; with none, it goes, and the next claim starts one of the set as it is now."""
    attempt.items = attempt.answered + awaited
    if not attempt.items:
        await repository.drop_attempt(session, attempt)
    elif not awaited:
        await _end(session, attempt, await repository.get(session, attempt.work_type), now)


@dataclass(frozen=True)
class Answer:
    """A copy given in an attempt is decided: accepted with its keying judged (`control`),
    or rejected (None: wrong)."""

    attempt_id: UUID
    item_id: UUID
    control: ControlKeying | None


async def record(session: AsyncSession, answers: Sequence[Answer], now: datetime) -> None:
    """Count each answer to its attempt when the attempt's contractor keyed it; an attempt
    whose every copy is answered ends: passed, with the skill granted, or failed."""
    if not answers:
        return
    found = await repository.attempts_for_update(session, {a.attempt_id for a in answers})
    keyers = await repository.keyers(session, [a.item_id for a in answers])
    qualifications: dict[str, Qualification | None] = {}
    for answer in answers:
        attempt = found.get(answer.attempt_id)
        if attempt is None or attempt.outcome is not AttemptOutcome.PENDING:
            continue
        if keyers.get(answer.item_id) != attempt.contractor_id:
            continue
        control = answer.control
        attempt.answered += 1
        attempt.right += bool(control and control.fields_correct == control.fields_judged)
        if attempt.answered < attempt.items:
            continue
        if attempt.work_type not in qualifications:
            qualifications[attempt.work_type] = await repository.get(session, attempt.work_type)
        await _end(session, attempt, qualifications[attempt.work_type], now)


async def _end(
    session: AsyncSession,
    attempt: QualificationAttempt,
    qualification: Qualification | None,
    now: datetime,
) -> None:
    """The attempt, every copy of it answered, passed (its skill granted) or failed."""
    if qualification is None:
        return
    ended = finish(
        attempt.right,
        attempt.items,
        qualification.pass_mark,
        qualification.retry_after_hours,
        now,
    )
    attempt.outcome, attempt.retry_at, attempt.finished_at = ended.outcome, ended.retry_at, now
    # A qualification on work type qc, put before `put` refused one, grants nothing.
    if ended.outcome is AttemptOutcome.PASSED and attempt.work_type != QC_SKILL:
        await repository.grant_skill(session, attempt.contractor_id, attempt.work_type)
