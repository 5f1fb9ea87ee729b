"""Work distribution: contractors claim tasks under a lease, key them, submit or release them.

Leases expire; the sweep gives expired tasks back to the queue and, after too many
attempts, flags the item for a manager instead. A control copy given back or run out is
withdrawn: it was drawn for its keyer alone.

The holder of a task's lease sees its personal values: a task is shown with them opened, and
a submission is stored with them sealed (the job's data key). What validation is told travels
sealed whole, personal or not.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import Suggested, TaskExpired, TaskSubmitted
from bpo_common.crypto import DataKey, DataKeys
from bpo_common.errors import Invalid, NotFound
from bpo_common.idempotency import RequestKey
from bpo_common.outbox import envelope_for, outbox_values, publish
from bpo_common.rules import CheckResult, spec_for
from bpo_intake.domain import tasks as domain
from bpo_intake.domain.jobs import FINAL
from bpo_intake.domain.links import PageLinks
from bpo_intake.domain.tasks import HeldTask, TaskStatus
from bpo_intake.repository import claims
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import tasks as repository
from bpo_intake.schemas import ClaimRequest, Submitted, TaskOut
from bpo_intake.service import claim_keys, claimed, contractors, controls, qualifications
from bpo_intake.service.claim_keys import Claimed
from bpo_intake.service.keys import key_of_job

SWEEP_BATCH = 500


async def claim(
    session: AsyncSession,
    contractor_id: UUID,
    request: ClaimRequest,
    *,
    lease_seconds: int,
    links: PageLinks,
    keys: DataKeys,
    draw: Random,
    integers_as_text: bool = False,
    key: RequestKey | None = None,
    now: datetime | None = None,
) -> Claimed:
    """Lease up to `request.limit` tasks to the contractor, their personal values opened; none,
    and 403 saying why, to one who may not work. An entry task of a job with a golden rate
    may give way to a control, as `draw` says (service.controls). A claim that finds fewer
    entry tasks than asked for may be given an item of a qualification the contractor lacks
    (service.qualifications). `integers_as_text`: for the workbench page, the values of integer
    fields and columns written as digits (domain.integers_as_text). `key`: the claim's
    Idempotency-Key; the same claim sent with it before is answered again, and nothing more
    is leased (service.claim_keys)."""
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    leased = await claims.claim_tasks(
        session, contractor_id, request.kinds, request.limit, now, lease_until, request.job_id, key
    )
    if key is not None and leased.kept is not None:
        return await claim_keys.replay(
            session, contractor_id, key, leased.kept, links=links, keys=keys,
            integers_as_text=integers_as_text, now=now,
        )  # fmt: skip
    leased_ids = [row["id"] for row in leased.rows]
    try:
        given = await _given(
            session, contractor_id, request, leased, lease_until, links=links, keys=keys,
            draw=draw, integers_as_text=integers_as_text, now=now,
        )  # fmt: skip
        await claim_keys.answered(session, contractor_id, key, given, now)
        return Claimed(given)
    except Exception:
        # The leases committed on their own: they go back rather than wait for their end,
        # once the claim's own transaction has let go of the rows it touched.
        await session.rollback()
        await claims.give_back(session, leased_ids, contractor_id, leased.items_before)
        await claim_keys.forget(session, contractor_id, key, now)
        raise


async def _given(
    session: AsyncSession,
    contractor_id: UUID,
    request: ClaimRequest,
    leased: claims.Leased,
    lease_until: datetime,
    *,
    links: PageLinks,
    keys: DataKeys,
    draw: Random,
    integers_as_text: bool,
    now: datetime,
) -> list[TaskOut]:
    """The rest of a claim, in the session's transaction (begun by its first statement, before
    any write): controls in place of tasks, a qualification's copy, and the tasks as their
    holder sees them. Under the contractor's claims lock from its first statement, as a
    suspension looks at their leases under it: one that came since the claim's statement
    has given those back, and what this leases more checks that they may still work."""
    await claims.wait_for_claims(session, contractor_id)
    if not leased.rows:
        # The slow path only: an empty queue, or a contractor who may not work.
        await contractors.refuse_unless_working(session, contractor_id)
    rows = await controls.swap_in_controls(
        session, contractor_id, leased.rows, draw=draw, keys=keys, now=now,
        items_before=leased.items_before,
    )  # fmt: skip
    if len(rows) < request.limit and TaskKind.ENTRY in request.kinds:
        given = await qualifications.offer(
            session, contractor_id, request.job_id, lease_until=lease_until, keys=keys, now=now
        )
        rows += [given] if given is not None else []
    return await claimed.shown(
        session, contractor_id, rows, links=links, keys=keys, integers_as_text=integers_as_text
    )


@dataclass(frozen=True)
class LeaseHolder:
    """The contractor who holds the lease on a task, and the task."""

    contractor_id: UUID
    task: HeldTask


async def lease_holder(
    session: AsyncSession, contractor_id: UUID, task_id: UUID, *, now: datetime | None = None
) -> LeaseHolder:
    """The task, when `contractor_id` may work and holds an unexpired lease on it: 404, 403
    or 409 otherwise. One read, without a lock: each step after it changes the task only if
    the lease is still held."""
    task = await repository.held_task(session, task_id, contractor_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    domain.check_held(task, contractor_id, now or utcnow())
    return LeaseHolder(contractor_id, task)


def check_draft(holder: LeaseHolder, data: Mapping[str, Any]) -> CheckResult:
    """The fields keyed so far, checked as a submit would check them; fields not given yet
    are not required yet, and rules on them wait."""
    task = holder.task
    spec = spec_for(task.job_id, task.fields, task.rules, task.match)
    return domain.check_keying(spec, data, task.keyed_fields, draft=True)


async def heartbeat(
    session: AsyncSession, holder: LeaseHolder, *, lease_seconds: int, now: datetime | None = None
) -> datetime:
    """Extend the lease; returns its new end."""
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    task_id = holder.task.id
    if not await repository.extend_lease(session, task_id, holder.contractor_id, now, lease_until):
        raise domain.lease_lost()
    return lease_until


async def release(
    session: AsyncSession, holder: LeaseHolder, *, now: datetime | None = None
) -> None:
    """Give the task back to the queue; a control copy is withdrawn instead, as when its lease
    runs out (the contractor may be given another, or a qualification's set item again)."""
    now = now or utcnow()
    task = holder.task
    withdrawn = task.control_of is not None
    if not await repository.release_lease(
        session, task.id, holder.contractor_id, now, withdrawn=withdrawn
    ):
        raise domain.lease_lost()


async def submit(
    session: AsyncSession,
    holder: LeaseHolder,
    data: Mapping[str, Any],
    *,
    reject: str | None = None,
    unreadable: str | None = None,
    active_seconds: float | None = None,
    keys: DataKeys,
    now: datetime | None = None,
) -> Submitted:
    """Check the data against the job's rules (or take a reviewer's rejection, or a keyer's
    word that the item cannot be read), then record it (its personal values sealed) and tell
    validation (every value sealed), in one statement."""
    now = now or utcnow()
    task = holder.task
    if active_seconds is not None:
        # Never more than the task was held (time on task may be paid by the hour), to the
        # millisecond.
        held = (now - (task.claimed_at or now)).total_seconds()
        active_seconds = round(min(active_seconds, max(held, 0.0)), 3)
    if unreadable is not None:
        domain.check_unreadable(task.kind, reject)
    if reject is not None:
        domain.check_rejection(task.kind)
    normalized: dict[str, Any] = {}
    spec = spec_for(task.job_id, task.fields, task.rules, task.match)
    if reject is None and unreadable is None:
        result = domain.check_keying(spec, data, task.keyed_fields)
        if not result.valid:
            names = ", ".join(dict.fromkeys(error.field for error in result.errors))
            raise Invalid(f"the data breaks the job's rules: {names}", errors=result.errors)
        normalized = result.normalized
    expected = domain.entries_expected(task.qc, task.kind, control=task.control_of is not None)
    if expected is None:
        expected = await repository.count_entry_tasks(session, task.item_id)
    key = await key_of_job(session, keys, task.job_id, task.data_key)
    reader = spec.personal.reader(key)
    golden = None if task.golden is None else reader.record(task.golden)
    client_values = domain.client_values(task.qc, task.fields, reader.record(task.source))
    envelope = envelope_for(
        session,
        TaskSubmitted(
            task_id=task.id,
            job_id=task.job_id,
            item_id=task.item_id,
            client_id=task.client_id,
            work_type=task.work_type,
            kind=task.kind,
            contractor_id=holder.contractor_id,
            data=key.seal(normalized),
            fields_keyed=len(normalized),
            keyed_fields=task.keyed_fields or [],
            golden=None if golden is None else key.seal(golden),
            entries_expected=expected,
            client_values=None if client_values is None else key.seal(client_values),
            rejection=reject or unreadable,
            active_seconds=active_seconds,
            documents=key.seal(task.documents) if task.documents else [],
            suggestions=_sealed_suggestions(task, reader.value, key),
            layout_id=task.layout_id if task.kind is TaskKind.ENTRY else None,
            qualification=task.attempt_id is not None,
            control_copy=task.control_of is not None,
            claimed_at=task.claimed_at or now,
            submitted_at=now,
        ),
        client_id=task.client_id,
    )
    stored = await repository.submit_task(
        session,
        task.id,
        holder.contractor_id,
        now,
        spec.personal.seal(normalized, key),
        active_seconds,
        outbox_values(envelope),
    )
    if not stored:
        raise domain.lease_lost()
    return Submitted(task_id=task.id, item_id=task.item_id, data=normalized, submitted_at=now)


def _sealed_suggestions(
    task: domain.HeldTask, opened: Callable[[str, Any], Any], key: DataKey
) -> dict[str, Suggested]:
    """The pre-fill the task showed, as validation is told of it: each value sealed."""
    shown = {
        name: {**suggestion, "value": opened(name, suggestion.get("value"))}
        for name, suggestion in (task.suggestions or {}).items()
    }
    return {
        name: suggestion.model_copy(update={"value": key.seal(suggestion.value)})
        for name, suggestion in domain.suggested(task.kind, shown).items()
    }


async def sweep_expired_leases(
    session: AsyncSession, *, max_attempts: int, now: datetime | None = None
) -> int:
    """Give expired tasks (up to SWEEP_BATCH) back to the queue; flag the item once a task has
    expired too often. A control copy is withdrawn instead, never flagged (the contractor may
    be given another, or a qualification's set item again). Returns how many expired. A task
    whose item another transaction holds (a decision, an erasure: which may wait for the
    task) expires on a later sweep."""
    now = now or utcnow()
    expired = await repository.lease_expired_tasks(session, now, SWEEP_BATCH)
    copies = await items_repository.control_copies(session, [t.item_id for t in expired])
    swept = 0
    for task in expired:
        holder = task.contractor_id
        assert holder is not None, "a leased task has a holder"
        withdrawn = task.item_id in copies
        requeued = not withdrawn and domain.requeued_after_expiry(task.attempts + 1, max_attempts)
        if not (requeued or withdrawn):
            item = await items_repository.item_unless_held(session, task.item_id)
            if item is None:
                continue
            item.flagged_reason = domain.flag_reason(task.kind, task.attempts + 1)
        task.attempts += 1
        task.contractor_id = None
        task.lease_expires_at = None
        task.status = TaskStatus.QUEUED if requeued else TaskStatus.CANCELLED
        swept += 1
        await publish(
            session,
            TaskExpired(
                task_id=task.id,
                job_id=task.job_id,
                item_id=task.item_id,
                client_id=task.client_id,
                contractor_id=holder,
                attempts=task.attempts,
                requeued=requeued,
                expired_at=now,
            ),
            client_id=task.client_id,
        )
    return swept


async def flag_unclaimable_items(
    session: AsyncSession, *, waited: timedelta, now: datetime | None = None
) -> int:
    """Flag for a manager the items (up to SWEEP_BATCH) with a task queued longer than
    `waited` that no active contractor may claim; returns how many it found. Their flag clears
    when the item becomes final, when a manager requeues it, or when one of its tasks is
    claimed and kept (repository.claims: not given way to a control)."""
    now = now or utcnow()
    stuck = await repository.unclaimable_tasks(session, now - waited, SWEEP_BATCH)
    # Found before their locks (in id order, as decisions lock items): one decided or flagged
    # meanwhile is left as it is.
    for item_id, kind in stuck:
        item = await items_repository.get_item_for_update(session, item_id)
        if item is None or item.status in FINAL or item.flagged_reason is not None:
            continue
        item.flagged_reason = domain.unclaimable_reason(kind, waited)
    return len(stuck)
