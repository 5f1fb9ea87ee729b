"""Erasing what validation keeps of a job or of some of its items, when intake says it erased
them: the values of entries, decisions and match exceptions, the provisional judgements of
keyings awaiting an adjudication, and for a whole job its data key (here and in the process),
which leaves every sealed copy unreadable."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.erasure import ValidationErasureDone
from bpo_common.contracts.intake import DataErased, TaskSubmitted
from bpo_common.crypto import DataKeys
from bpo_common.erasure import record_erased
from bpo_common.events import Event
from bpo_common.outbox import publish_each
from bpo_validation.models import JobRules
from bpo_validation.repository import decisions as decisions_repository
from bpo_validation.repository import erasure as repository
from bpo_validation.repository import jobs as jobs_repository
from bpo_validation.repository import quality as scores
from bpo_validation.service.entries import Rules, unkept_entry
from bpo_validation.service.quality import scored, unjudged


async def erase(session: AsyncSession, event: DataErased, *, keys: DataKeys) -> None:
    # A keying of these items read meanwhile waits, and then finds them erased.
    if event.item_ids is None:
        await decisions_repository.lock_items(session, (), [event.job_id])
    else:
        await decisions_repository.lock_items(session, event.item_ids)
    now = utcnow()
    closed = await repository.erase_values(session, event.job_id, event.item_ids, now)
    # An item erased while it awaited its adjudication never gets one.
    await scores.drop_provisional(session, event.job_id, event.item_ids)
    await _score_undecided(session, event, closed, now)
    if event.item_ids is None:
        await repository.delete_job_key(session, event.job_id)
        keys.forget(event.job_id)
    await record_erased(session, event, ValidationErasureDone)


async def _score_undecided(
    session: AsyncSession, event: DataErased, closed: list[UUID], now: datetime
) -> None:
    """Score the keyings the erasure leaves without a decision, so that their keyers are
    paid: those of an invoice whose exception it closed by their judged fields, as a
    rejection at the exception queue does; those of the other items it erased before their
    decision `unjudged` (a whole job's wait for its cancel, which intake sends with the
    erasure of a job not done, and which scores them, as it scored a cancelled job's)."""
    job = (await jobs_repository.rules_of_jobs(session, [event.job_id])).get(event.job_id)
    if job is None:
        return  # nothing of it kept yet
    fields = len(Rules.of(job).spec.fields)
    entries = await decisions_repository.entries_of_items(session, closed)
    judged = await scores.judged_by_task(session, closed)
    tasks = [
        scored(entry, judged, now, rejected=False, fields=fields)
        for of_item in entries.values()
        for entry in of_item
    ]
    if event.item_ids is not None and job.cancelled_at is None:
        undecided = await decisions_repository.unsettled_entries(
            session, event.job_id, event.item_ids
        )
        tasks += [unjudged(entry, now, fields=fields) for entry in undecided]
    await publish_each(session, [(task, task.client_id) for task in tasks])


def erased_keyings(
    events: list[TaskSubmitted], jobs: dict[UUID, JobRules], now: datetime
) -> list[tuple[Event, UUID | None]]:
    """Keyings made before their item's erasure but read after it: not kept, and scored
    `unjudged` (nothing can judge them now), so that their keyers are paid."""
    tasks: list[tuple[Event, UUID | None]] = []
    for event in events:
        job = jobs.get(event.job_id)
        if job is None:
            continue  # its job's rules never came: nothing of it was kept
        fields = len(Rules.of(job).spec.fields)
        entry = unkept_entry(event)
        task = unjudged(entry, now, fields=fields, control_copy=event.control_copy)
        tasks.append((task, event.client_id))
    return tasks
