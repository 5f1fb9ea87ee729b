"""Erasure and retention of a job's data.

Intake erases what it holds of a job (or of some of its items): the values of items, tasks
and webhook payloads, the documents' bytes, page images, words and names; for a whole job
its data key as well, which leaves every sealed copy of its values unreadable, on the stream too
(crypto-shredding). Then it announces DataErased; validation, billing and reporting erase
their own share and each answers with its ErasureDone, which intake records per service.
Once all four have, intake empties the events on the stream that carry the erased values
(sealed), or what a person typed about the items (a keyer's "cannot read it", a reviewer's
rejection, in clear): each is replaced by a copy without them, which matters for an item
erased without its job, whose key lives on. Ids, counts, times, decided outcomes and the
fixed words of their reasons stay; a job not done is cancelled with its data, an item without
its outcome is rejected as erased, so that its job does not wait for it (in a cancelled job,
one waiting on an exception, which validation closes). A second erasure of what is erased
already changes nothing.
"""

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from nats.js import JetStreamContext
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.erasure import SEALED_EVENTS, TYPED_EVENTS, ErasureDone
from bpo_common.contracts.intake import DataErased
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory, unreachable
from bpo_common.erasure import Erased, forget_dead_letters, redacted
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_common.messaging import redact
from bpo_common.outbox import publish
from bpo_intake.domain.erasure import ErasureOut, RetentionFailures, ServiceErasure
from bpo_intake.domain.jobs import ItemStatus, JobStatus
from bpo_intake.models import Erasure, Job
from bpo_intake.repository import erasure as repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.service import decisions, documents, jobs
from bpo_intake.service.documents import StoredBytes

log = structlog.get_logger(__name__)

RETENTION_BATCH = 20
RETENTION_FAILURES = Counter(
    "bpo_retention_erasures_failed_total",
    "Erasures of a job past its retention that failed (each logged as retention_erasure_failed)",
)
STREAM_BATCH = 100
# A pass of the stream erasure holds the erasures it claims for STREAM_CLAIM_S, renewed every
# STREAM_RENEW_S while it reads the stream, and stops once it has not renewed its claim for
# STREAM_HELD_S: a database that cannot be reached for that long has it stop before its claim
# runs out and another pass may take its erasures.
STREAM_CLAIM_S = 120.0
STREAM_RENEW_S = 20.0
STREAM_HELD_S = STREAM_CLAIM_S - 2 * STREAM_RENEW_S


async def erase_job(
    session: AsyncSession,
    keys: DataKeys,
    job_id: UUID,
    scope: UUID | None,
    requested_by: str,
    released: list[StoredBytes],
) -> ErasureOut:
    """Erase the job's data everywhere; another client's job is not found. Its documents'
    bytes are added to `released`, to be swept once the transaction has committed."""
    job = await _lock_with_copies(session, job_id, None, scope)
    if job is None:
        raise NotFound(f"no job {job_id}")
    await _erase(session, keys, job, None, requested_by, released)
    return await erasure_state(session, job_id, scope)


async def erase_item(
    session: AsyncSession,
    keys: DataKeys,
    item_id: UUID,
    scope: UUID | None,
    requested_by: str,
    released: list[StoredBytes],
) -> ErasureOut:
    """Erase one item's data everywhere; its job's key stays (the job's other items need it),
    so the copies of the item's values on the stream stay sealed until every service has
    erased its share and the stream's events are emptied of them (`erase_from_the_stream`)."""
    found = await repository.job_of_item(session, item_id, scope)
    job = None if found is None else await _lock_with_copies(session, found[0], [item_id], scope)
    if job is None:
        raise NotFound(f"no item {item_id}")
    await _erase(session, keys, job, [item_id], requested_by, released)
    return await erasure_state(session, job.id, scope)


async def _lock_with_copies(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None, scope: UUID | None
) -> Job | None:
    """The job, locked (None if the caller's scope does not hold it), and the jobs controls
    were copied into from it (or from these of its items) with it, all in id order, as
    decisions lock jobs. (A copy in the making as they are read, its claim holding the pool
    item, lands in a job locked later, out of order: `_erase` finds it once the item is.)"""
    if await repository.job_of(session, job_id, scope) is None:
        return None
    copied_into = await repository.copies_of(session, job_id, item_ids)
    job = None
    for locking in sorted({job_id, *copied_into}):
        locked = await repository.lock_job(session, locking, scope if locking == job_id else None)
        if locking == job_id:
            job = locked
    return job


async def _erase(
    session: AsyncSession,
    keys: DataKeys,
    job: Job,
    item_ids: Sequence[UUID] | None,
    requested_by: str,
    released: list[StoredBytes],
) -> None:
    if await repository.erased_before(session, job.id, item_ids):
        return
    now = utcnow()
    # Nobody keys erased values: a submit of a task held now finds its lease gone. The open
    # tasks are locked before their items, as a claim or the lease sweep locks them: a claim
    # holding a task as it starts its item is waited for, a later one passes the task by (the
    # other order deadlocked with a claim under way, and the erasure or the claim was a 500).
    withdrawn = await tasks_repository.withdraw_open_tasks(session, job.id, item_ids)
    document_ids = await repository.erase_values(session, job.id, item_ids)
    if item_ids is None and job.status in (JobStatus.OPEN, JobStatus.CLOSED):
        await jobs.cancel(session, job, withdrawn)  # without its data the work stops
    # Before the erasure is recorded (a decision passes over erased items), after the values
    # are (the client is told of the rejection in a webhook of its own). A cancelled job's
    # items stay as they are, but for those waiting on an exception: validation closes it
    # with their data, and nothing else would end them.
    unfinished = await repository.unfinished_items(
        session,
        job.id,
        item_ids,
        only=ItemStatus.EXCEPTION if job.status is JobStatus.CANCELLED else None,
    )
    if unfinished:
        await decisions.reject_erased(session, keys, job, unfinished)
    if item_ids is None:
        document_ids = await repository.job_documents(session, job.id)
        await repository.delete_data_key(session, job.id)
        keys.forget(job.id)
    # The documents locked before their pages are changed, in the renderer's order (the other
    # order deadlocked with a render under way).
    locked = await repository.documents_for_update(session, document_ids)
    await documents.delete_documents(session, locked, now, released)
    await repository.forget_document_names(session, document_ids)
    erasure = Erasure(
        id=new_id(),
        job_id=job.id,
        client_id=job.client_id,
        item_ids=None if item_ids is None else [str(i) for i in item_ids],
        requested_by=requested_by,
        requested_at=now,
        intake_erased_at=now,
    )
    await repository.add_erasure(session, erasure)
    await forget_dead_letters(session, Erased.by(job.id, item_ids))
    event = DataErased(
        erasure_id=erasure.id,
        job_id=job.id,
        client_id=job.client_id,
        item_ids=None if item_ids is None else list(item_ids),
        requested_at=now,
    )
    await publish(session, event, client_id=job.client_id)
    # Controls copied from these items into other jobs (injected at claims) go with them.
    for copy_job_id, copies in (await repository.copies_of(session, job.id, item_ids)).items():
        copied_into = await repository.lock_job(session, copy_job_id, None)
        if copied_into is not None:
            await _erase(session, keys, copied_into, copies, requested_by, released)


async def erasure_state(session: AsyncSession, job_id: UUID, scope: UUID | None) -> ErasureOut:
    """Where the job's erasure stands in each service."""
    if await repository.job_of(session, job_id, scope) is None:
        raise NotFound(f"no job {job_id}")
    erasure = await repository.latest_erasure(session, job_id)
    if erasure is None:
        return ErasureOut(job_id=job_id)
    return ErasureOut(
        job_id=job_id,
        erasure_id=erasure.id,
        item_ids=None if erasure.item_ids is None else [UUID(i) for i in erasure.item_ids],
        requested_at=erasure.requested_at,
        intake=ServiceErasure(erased_at=erasure.intake_erased_at),
        validation=ServiceErasure(erased_at=erasure.validation_erased_at),
        billing=ServiceErasure(erased_at=erasure.billing_erased_at),
        reporting=ServiceErasure(erased_at=erasure.reporting_erased_at),
        stream=ServiceErasure(erased_at=erasure.stream_erased_at),
    )


async def record_done(session: AsyncSession, event: ErasureDone) -> None:
    """A service said it erased its share."""
    await repository.set_erased_at(session, event.erasure_id, event.service, event.erased_at)


async def erase_past_retention(
    session: AsyncSession,
    keys: DataKeys,
    default_days: int,
    now: datetime,
    released: list[StoredBytes],
    failures: RetentionFailures,
) -> int:
    """Erase the data of jobs (up to RETENTION_BATCH) that ended longer ago than their
    client's retention (see `erase_job`), each in a savepoint of its own: one that fails is
    logged, counted in `failures` and passed over for a day (RETRY_FAILED_AFTER), and the
    others are erased all the same. Returns how many were due."""
    due = await repository.jobs_past_retention(
        session, now, default_days, RETENTION_BATCH, failures.passed_over(now)
    )
    for job_id, _ in due:
        freed: list[StoredBytes] = []
        try:
            async with session.begin_nested():
                job = await _lock_with_copies(session, job_id, None, None)
                if job is not None:
                    await _erase(session, keys, job, None, "retention", freed)
        except Exception as exc:
            if unreachable(exc):
                raise  # the database is away: the whole pass waits
            log.exception("retention_erasure_failed", job_id=str(job_id))
            RETENTION_FAILURES.inc()
            failures.failed(job_id, now)
            continue
        released.extend(freed)
    return len(due)


async def erase_from_the_stream(sessions: SessionFactory, js: JetStreamContext) -> int:
    """Empty the stream's events of the values of erasures every service has done (up to
    STREAM_BATCH of them), and of what people typed about their items (a keyer's "cannot read
    it", a reviewer's rejection), in one read of the stream; an erasure whose events some
    consumer has not acked yet waits for the next pass. Returns how many erasures are done.

    The pass claims its erasures in a short transaction, reads the stream with none open (a
    read takes minutes to hours at production size: a transaction held for it was ended by a
    server's idle_in_transaction_session_timeout, and held back vacuum without one), and
    records what it emptied in another. It renews its claim while it reads, and stops once it
    has not for STREAM_HELD_S, before its claim runs out and another pass may take it: two
    passes never read for one erasure at once. A pass that fails gives its claim back; one
    stopped or killed leaves it to run out. A read cut short is safe to run again: a copy is not
    picked again, and one published twice shares its `Nats-Msg-Id`."""
    loop = asyncio.get_running_loop()
    asked = loop.time()
    async with sessions() as session, session.begin():
        erasures = await repository.claim_for_the_stream(session, STREAM_BATCH, STREAM_CLAIM_S)
    if not erasures:
        return 0
    claim = _StreamClaim([erasure.id for erasure in erasures], _until(erasures))
    erased = Erased.of((erasure.job_id, erasure.item_ids) for erasure in erasures)
    subjects = sorted({event.event_type for event in (*SEALED_EVENTS, *TYPED_EVENTS)})
    read = asyncio.Event()
    try:
        async with asyncio.timeout_at(asked + STREAM_HELD_S) as held:
            renewal = asyncio.create_task(_renew(sessions, claim, held, read))
            try:
                waiting = await redact(js, subjects, erased.in_event, redacted)
            except BaseException:
                renewal.cancel()
                raise
            finally:
                read.set()
                await asyncio.wait([renewal])
    except Exception:
        await _give_back(sessions, claim)
        raise
    waiting_jobs = {envelope.data["job_id"] for envelope in waiting}
    waiting_items = {envelope.data["item_id"] for envelope in waiting}
    done = [
        erasure.id
        for erasure in erasures
        if str(erasure.job_id) not in waiting_jobs
        and not set(erasure.item_ids or ()) & waiting_items
    ]
    async with sessions() as session, session.begin():
        await repository.release_stream_claim(session, claim.ids, claim.until, done, utcnow())
    return len(done)


@dataclass
class _StreamClaim:
    """The erasures a pass of the stream erasure holds, and when its claim runs out (which
    names it)."""

    ids: list[UUID]
    until: datetime


def _until(erasures: Sequence[Erasure]) -> datetime:
    until = erasures[0].stream_claimed_until
    assert until is not None, "set by the claim"
    return until


async def _renew(
    sessions: SessionFactory, claim: _StreamClaim, held: asyncio.Timeout, read: asyncio.Event
) -> None:
    """Renew the claim every STREAM_RENEW_S until the stream is `read`, each renewal putting
    off when the pass stops; a renewal that fails is tried again at the next, and the pass
    stops at once when another pass took one of its erasures. A renewal under way is waited
    for, not cut short, so that the claim the pass records its result under is the one
    committed."""
    loop = asyncio.get_running_loop()
    while not read.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(read.wait(), STREAM_RENEW_S)
            return
        asked = loop.time()
        try:
            async with sessions() as session, session.begin():
                until = await repository.renew_stream_claim(
                    session, claim.ids, claim.until, STREAM_CLAIM_S
                )
        except Exception:
            log.exception("stream_claim_not_renewed", erasure_ids=[str(i) for i in claim.ids])
            continue
        if until is None:
            log.warning("stream_claim_lost", erasure_ids=[str(i) for i in claim.ids])
            held.reschedule(loop.time())
            return
        claim.until = until
        held.reschedule(asked + STREAM_HELD_S)


async def _give_back(sessions: SessionFactory, claim: _StreamClaim) -> None:
    """Release the claim of a pass that failed, for the next pass to take its erasures at
    once; a release that fails too leaves the claim to run out."""
    try:
        async with sessions() as session, session.begin():
            await repository.release_stream_claim(session, claim.ids, claim.until, (), utcnow())
    except Exception:
        log.exception("stream_claim_not_given_back", erasure_ids=[str(i) for i in claim.ids])
