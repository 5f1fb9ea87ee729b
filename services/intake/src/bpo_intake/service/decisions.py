"""What intake does with validation's decisions about items, contractors and jobs.

A decision about an item that is gone, or already final, changes nothing: decisions arrive
at least once. A match exception holds an item (status `exception`, not final) until the
client resolves it, which validation follows with the item's acceptance or rejection.

Decisions carry their values sealed with the job's data key: a result and the entries under
review are opened here, and stored with their personal values sealed again.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import QcPolicy, TaskKind, validation
from bpo_common.contracts.intake import ERASED_REASON, ItemCompleted, ItemRejected
from bpo_common.crypto import DataKey, DataKeys
from bpo_common.notifications import notify
from bpo_common.outbox import publish_each
from bpo_intake.domain.contractors import ContractorStatus, suspension_stands
from bpo_intake.domain.documents import WORK_CHANNEL
from bpo_intake.domain.jobs import FINAL, ItemStatus, JobStatus
from bpo_intake.domain.tasks import keyed_fields, new_task, review_skills
from bpo_intake.domain.webhooks import WebhookEvent
from bpo_intake.models import Item, Job, JobAccuracy
from bpo_intake.repository import contractors as contractors_repository
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.service import contractors, jobs, qualifications, webhooks
from bpo_intake.service.keys import keys_of_jobs

ItemDecision = (
    validation.ItemAccepted
    | validation.ItemRejected
    | validation.ReviewRequired
    | validation.SecondKeyingRequired
    | validation.ExceptionOpened
)


async def decide_items(
    session: AsyncSession, decisions: Sequence[ItemDecision], keys: DataKeys
) -> None:
    """Apply validation's decisions about items, in order, with the items and their jobs
    locked: as applying them one at a time would, reading the items and jobs once and
    writing the items, the new tasks and the events once each. The jobs are locked before
    the items, as an erasure locks them (the other order deadlocked with one)."""
    item_ids = {d.item_id for d in decisions}
    jobs_of_items = await jobs_repository.jobs_of_items_for_update(session, item_ids)
    items = await items_repository.items_for_update(session, item_ids)
    # The data keys of the jobs whose values a decision brings (a rejection brings none).
    keyed = {
        items[d.item_id].job_id
        for d in decisions
        if d.item_id in items and not isinstance(d, validation.ItemRejected)
    }
    wrapped = {job.id: job.data_key for job in jobs_of_items.values() if job.id in keyed}
    run = _Run(await keys_of_jobs(session, keys, wrapped))
    for decision in decisions:
        item = items.get(decision.item_id)
        job = jobs_of_items.get(item.job_id) if item is not None else None
        if item is None or job is None or item.status in FINAL:
            continue
        match decision:
            case validation.ItemAccepted():
                run.accept(item, job, decision)
            case validation.ItemRejected():
                run.reject(item, job, decision)
            case validation.ReviewRequired() | validation.SecondKeyingRequired() if (
                job.status is JobStatus.CANCELLED
            ):
                continue  # a cancelled job's work is withdrawn: no new task for anyone
            case validation.ReviewRequired():
                run.review(item, job, decision)
            case validation.SecondKeyingRequired():
                # Another entry task for the item, which its first keyer cannot claim: of the
                # fields validation named only, when it named some.
                only = keyed_fields(job.fields, decision.fields)
                run.tasks.append(
                    new_task(
                        job,
                        item.id,
                        TaskKind.ENTRY,
                        decision.decided_at,
                        rekey=True,
                        keyed_fields=only,
                    )
                )
            case validation.ExceptionOpened():
                if item.exception_id != decision.exception_id:
                    run.hold(item, job, decision)
    # The items the run changed, in one statement; then what follows from them.
    await items_repository.write_decided(session, list(run.changed.values()))
    await run.write(session)


async def reject_erased(
    session: AsyncSession, keys: DataKeys, job: Job, item_ids: Sequence[UUID]
) -> None:
    """Items whose data is being erased before their outcome are rejected, as a decision of
    validation's would (event, webhook, the job's completion): nobody keys them again, and
    their job does not wait for them."""
    now = utcnow()
    rejections = [
        validation.ItemRejected(
            item_id=item_id,
            job_id=job.id,
            client_id=job.client_id,
            reason=ERASED_REASON,
            decided_at=now,
        )
        for item_id in item_ids
    ]
    await decide_items(session, rejections, keys)


@dataclass
class _Run:
    """What a run of decisions brings: the items it changed, new tasks, events, webhooks, and
    the jobs whose items finished."""

    # The data key of each job of the run.
    keys: dict[UUID, DataKey]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[ItemCompleted | ItemRejected, UUID]] = field(default_factory=list)
    finishing: dict[UUID, Job] = field(default_factory=dict)
    # Copies given in qualification attempts, decided.
    answers: list[qualifications.Answer] = field(default_factory=list)
    # The items the run changed (items_repository.DECIDED).
    changed: dict[UUID, Item] = field(default_factory=dict)
    # What the clients hear of by webhook.
    told: list["_Told"] = field(default_factory=list)

    def accept(self, item: Item, job: Job, decision: validation.ItemAccepted) -> None:
        """The item is completed with the decided result (which extraction learns from)."""
        key = self.keys[job.id]
        item.result = jobs.job_spec(job).personal.seal(key.open(decision.result), key)
        item.learn_pending = item.layout_id is not None
        item.agreed = decision.agreed and QcPolicy.model_validate(job.qc).agreed_controls
        completed = ItemCompleted(
            item_id=item.id,
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            golden=item.golden is not None,
            fields=len(job.fields),
            completed_at=decision.decided_at,
            control_copy=item.control_of is not None,
        )
        self._finish(item, job, ItemStatus.COMPLETED, decision.decided_at, completed)
        if item.attempt_id is not None:
            self.answers.append(qualifications.Answer(item.attempt_id, item.id, decision.control))

    def reject(self, item: Item, job: Job, decision: validation.ItemRejected) -> None:
        """The item is rejected, and the client told why."""
        self.told.append(_rejection(item, job, decision))
        rejected = ItemRejected(
            item_id=item.id,
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            reason=decision.reason,
            rejected_at=decision.decided_at,
            control_copy=item.control_of is not None,
            erased=decision.reason == ERASED_REASON,
        )
        self._finish(item, job, ItemStatus.REJECTED, decision.decided_at, rejected)
        if item.attempt_id is not None:
            self.answers.append(qualifications.Answer(item.attempt_id, item.id, None))

    def hold(self, item: Item, job: Job, decision: validation.ExceptionOpened) -> None:
        """The item waits for the client to resolve the exception, and the client is told."""
        opened = _Opened.of(decision, self.keys[job.id])
        _hold(item, decision, opened)
        self.changed[item.id] = item
        self.told.append(_exception(item, job, decision, opened))

    def review(self, item: Item, job: Job, decision: validation.ReviewRequired) -> None:
        """A review or adjudication task that only contractors with the qc skill can claim; its
        entries kept with their personal values sealed, and validation's reason for it, which
        tells the person who does it what to look at."""
        item.status = ItemStatus.IN_REVIEW
        _release(item)
        self.changed[item.id] = item
        key, personal = self.keys[job.id], jobs.job_spec(job).personal
        self.tasks.append(
            new_task(
                job,
                item.id,
                decision.kind,
                decision.decided_at,
                required_skills=review_skills(job.required_skills),
                entries=[
                    entry.model_dump(mode="json")
                    | {"data": personal.seal(key.open(entry.data), key)}
                    for entry in decision.entries
                ],
                differing=decision.differing,
                reason=decision.reason,
            )
        )

    def _finish(
        self,
        item: Item,
        job: Job,
        status: ItemStatus,
        decided_at: datetime,
        event: ItemCompleted | ItemRejected,
    ) -> None:
        """The item's final status and the event that says so. A final item waits for no
        manager."""
        item.status = status
        item.completed_at = decided_at
        item.flagged_reason = None
        _release(item)
        self.changed[item.id] = item
        self.events.append((event, job.client_id))
        self.finishing[job.id] = job

    async def write(self, session: AsyncSession) -> None:
        """The new tasks, extraction's notice of items to learn from, the webhooks and the
        events, then the completion of each job whose last open item this run finished (the
        items themselves are written before: items_repository.write_decided)."""
        await tasks_repository.add_tasks(session, self.tasks)
        if any(item.learn_pending for item in self.changed.values()):
            await notify(session, WORK_CHANNEL)
        for client_id, kind, payload in self.told:
            await webhooks.enqueue(session, client_id, kind, payload)
        await publish_each(session, self.events)
        for job in self.finishing.values():
            await jobs.complete_if_done(session, job)
        await qualifications.record(session, self.answers, utcnow())


@dataclass(frozen=True)
class _Opened:
    """What an exception quotes of the invoice, opened: why it does not match, and each line's
    outcome. (A job's match reads no personal field, so neither holds a personal value.)"""

    reasons: list[str]
    lines: list[dict[str, Any]]

    @classmethod
    def of(cls, opened: validation.ExceptionOpened, key: DataKey) -> "_Opened":
        return cls(list(key.open(opened.reasons)), list(key.open(opened.lines)))


def _hold(item: Item, exception: validation.ExceptionOpened, opened: _Opened) -> None:
    """The item waits for the client to resolve the exception; it shows why."""
    item.status = ItemStatus.EXCEPTION
    item.exception_id = exception.exception_id
    item.exception_reasons = opened.reasons


def _release(item: Item) -> None:
    """The item no longer waits on an exception (it is decided, or back in the flow)."""
    item.exception_id = None
    item.exception_reasons = None


# A webhook to send: to which client, of what, saying what.
_Told = tuple[UUID, WebhookEvent, dict[str, Any]]


def _exception(
    item: Item, job: Job, exception: validation.ExceptionOpened, opened: _Opened
) -> _Told:
    """The client hears by webhook that an invoice waits for its accounts-payable team: the
    exception to resolve, why, and each line's outcome."""
    return (
        job.client_id,
        WebhookEvent.ITEM_EXCEPTION,
        {
            "exception_id": exception.exception_id,
            "job_id": job.id,
            "item_id": item.id,
            "external_id": item.external_id,
            "outcome": exception.outcome,
            "reasons": opened.reasons,
            "lines": opened.lines,
            "opened_at": exception.opened_at,
        },
    )


def _rejection(item: Item, job: Job, decision: validation.ItemRejected) -> _Told:
    """The client hears by webhook why the item was rejected."""
    return (
        job.client_id,
        WebhookEvent.ITEM_REJECTED,
        {
            "job_id": job.id,
            "item_id": item.id,
            "external_id": item.external_id,
            "reason": decision.reason,
            "rejected_at": decision.decided_at,
        },
    )


async def suspend_contractor(
    session: AsyncSession, decision: validation.ContractorSuspended
) -> None:
    """The contractor gets no more work, and what they hold goes back to the queue; the
    reason is kept and shown. One suspended already keeps the reason they were suspended for
    (a manager's, which validation does not know of, would be lost). A suspension made
    before the contractor's latest reactivation, read late, changes nothing."""
    contractor = await contractors_repository.get_contractor(session, decision.contractor_id)
    if contractor is not None and suspension_stands(
        decision.suspended_at, contractor.reactivated_at
    ):
        if contractor.status is not ContractorStatus.SUSPENDED:
            contractor.status = ContractorStatus.SUSPENDED
            contractor.status_reason = decision.reason
        await contractors.let_go_of_leases(session, decision.contractor_id)


async def route_keyer(session: AsyncSession, changed: validation.KeyerTrustChanged) -> None:
    """Validation doubts (or no longer doubts) a keyer's first keyings on a work type: their
    claims take second keyings first (or tasks in the queue's order again)."""
    await contractors_repository.set_route(
        session,
        {
            "contractor_id": changed.contractor_id,
            "work_type": changed.work_type,
            "doubtful": changed.doubtful,
            "changed_at": changed.decided_at,
        },
    )


async def record_job_accuracy(
    session: AsyncSession, delivered: validation.JobAccuracyDelivered
) -> None:
    """Keep what an adaptive job delivered, to show with the job and its results, and tell the
    client by webhook; one that missed its target is flagged by it. An event about a job
    intake does not hold for that client, or older than the estimate kept, changes nothing."""
    job = await jobs_repository.get_job(session, delivered.job_id, delivered.client_id)
    if job is None:
        return
    # Its client and work type are the job's own.
    figures = delivered.model_dump(exclude={"client_id", "work_type"})
    if await jobs_repository.record_accuracy(session, JobAccuracy(**figures)):
        told = {"external_ref": job.external_ref} | figures
        await webhooks.enqueue(session, job.client_id, WebhookEvent.JOB_ACCURACY, told)
