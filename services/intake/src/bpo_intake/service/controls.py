"""Control items injected at claim (`qc.golden_rate`).

A claimed entry task of a job with a golden rate gives way, at that rate (see
domain.controls.chance), to a control: a new item of the job copied from one of the client's
control items the keyer has never had, with the known answer, whose entry task is leased to
the keyer instead. The claimed task goes back to the queue, and its item as it was before
the claim (pending, flagged if it was): nobody took it. The keyer sees the control as any
task; validation scores the keying against the known answer and accepts the control with it.
Drawn for that keyer alone, a control they give back, or whose lease runs out, is withdrawn
(service.tasks), never keyed by another. A control is none of the client's work:
billing skips control items, and the job's counts, listing, results and completion leave
injected ones out.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from random import Random
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import ItemsReceived, ReceivedItem
from bpo_common.crypto import DataKeys
from bpo_common.db import advisory_lock
from bpo_common.ids import made_at, new_id
from bpo_common.outbox import publish
from bpo_intake.domain import controls as domain
from bpo_intake.domain.jobs import JobStatus
from bpo_intake.domain.tasks import TaskStatus, new_task
from bpo_intake.models import Job
from bpo_intake.repository import claims
from bpo_intake.repository import controls as repository
from bpo_intake.repository import items as items_repository
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.service import contractors
from bpo_intake.service.jobs import job_spec
from bpo_intake.service.keys import keys_of_jobs

# How many pool items a draw looks at for one whose known answer the job's rules take (see
# _fitting) before the claim keeps its task.
POOL_TRIES = 3

# What a claim shows of a task's job.
_JOB_COLUMNS = ("work_type", "fields", "rules", "match", "instructions", "data_key")


async def swap_in_controls(
    session: AsyncSession,
    contractor_id: UUID,
    rows: list[dict[str, Any]],
    *,
    draw: Random,
    keys: DataKeys,
    now: datetime,
    items_before: Mapping[UUID, claims.ItemBefore],
) -> list[dict[str, Any]]:
    """The claimed rows (with their job's `golden_rate`), each entry task of a job with a
    golden rate given way, as drawn, to a control leased to the keyer until the same time;
    the item of a task given way put back as it was before the claim (`items_before`).
    Rows of jobs without a golden rate cost nothing more."""
    rates = [Decimal(row.pop("golden_rate") or 0) for row in rows]
    if not any(rates):
        return rows
    return [
        await _drawn(
            session, contractor_id, row, rate, draw, keys, now, items_before.get(row["id"])
        )
        if rate and row["kind"] == TaskKind.ENTRY
        else row
        for row, rate in zip(rows, rates, strict=True)
    ]


async def _drawn(
    session: AsyncSession,
    contractor_id: UUID,
    row: dict[str, Any],
    rate: Decimal,
    draw: Random,
    keys: DataKeys,
    now: datetime,
    before: claims.ItemBefore | None,
) -> dict[str, Any]:
    """The claimed row, or a control in its place if the draw says so and the pool has one
    for the keyer. Whether the keyer is new or doubted is asked only when it decides."""
    drawn = Decimal(draw.random())
    if drawn >= domain.chance(rate, wary=True):
        return row
    if drawn >= rate and not await repository.wary(session, contractor_id, row["work_type"]):
        return row
    job = await jobs_repository.job_to_add_to(session, row["job_id"])
    if job is None or job.status not in (JobStatus.OPEN, JobStatus.CLOSED):
        return row
    # One draw from the pool at a time for a keyer: two claims at once never copy them the
    # same item.
    await advisory_lock(session, f"controls:{contractor_id}")
    pool = await _fitting(session, contractor_id, job, draw, keys)
    if pool is None:
        return row
    return await _inject(session, contractor_id, row, job, pool, keys, now, before)


async def _fitting(
    session: AsyncSession, contractor_id: UUID, job: Job, draw: Random, keys: DataKeys
) -> domain.PoolItem | None:
    """A pool item for the keyer whose known answer the job's rules take, as its keying's
    submit checks it: one of a job with other rules may break them, and the keyer who typed
    the answer would be refused, then scored wrong for whatever else they gave. Up to
    POOL_TRIES items are drawn; None when none of them fits."""
    spec = job_spec(job)
    passed: list[UUID] = []
    for _ in range(POOL_TRIES):
        pool = await repository.pool_item(
            session, job.id, contractor_id, str(draw.random()), passed
        )
        if pool is None:
            return None
        key = (await keys_of_jobs(session, keys, {pool.job_id: pool.data_key}))[pool.job_id]
        if domain.answer_fits(spec, spec.personal.open(pool.golden, key)):
            return pool
        passed.append(pool.id)
    return None


async def _inject(
    session: AsyncSession,
    contractor_id: UUID,
    row: dict[str, Any],
    job: Job,
    pool: domain.PoolItem,
    keys: DataKeys,
    now: datetime,
    before: claims.ItemBefore | None,
) -> dict[str, Any]:
    """The claimed task back in the queue, its item as it was `before` the claim (if the claim
    changed it), and a control copied from `pool` leased to the keyer in its place; the
    control's task as the claim shows it."""
    if not await tasks_repository.release_lease(
        session, row["id"], contractor_id, now, withdrawn=False
    ):
        return row
    if before is not None:
        await claims.put_item_back(await session.connection(), row["id"], before)
    return await give_control(
        session, contractor_id, job, pool, keys, now, lease_until=row["lease_expires_at"],
        in_place_of=(row["item_id"], row["id"]),
    )  # fmt: skip


async def give_control(
    session: AsyncSession,
    contractor_id: UUID,
    job: Job,
    pool: domain.PoolItem,
    keys: DataKeys,
    now: datetime,
    *,
    lease_until: datetime,
    attempt_id: UUID | None = None,
    in_place_of: tuple[UUID, UUID] | None = None,
) -> dict[str, Any]:
    """A control of `job` copied from `pool` (of a qualification attempt, when given), its
    entry task leased to the keyer until `lease_until`: the task as a claim shows it. Leased
    after the claim's statement (under the contractor's claims lock), it goes only to one who
    may still work: one suspended since refuses the claim, whose leases go back.

    In place of a claimed task (`in_place_of`: its item's id and its own), the control's item
    and task ids carry the times those carry: ids made at the claim would tell the keyer which
    task is a control, every real task having been made before the claim that gives it."""
    await contractors.refuse_unless_working(session, contractor_id)
    found = await keys_of_jobs(session, keys, {pool.job_id: pool.data_key, job.id: job.data_key})
    reseal = domain.Resealer(job_spec(job).personal, found[pool.job_id], found[job.id])
    item_id, task_id = (
        (new_id(), new_id())
        if in_place_of is None
        else (new_id(at=made_at(in_place_of[0])), new_id(at=made_at(in_place_of[1])))
    )
    item = domain.control_item(
        pool, job.id, job.client_id, reseal, now, item_id=item_id, attempt_id=attempt_id
    )
    await items_repository.add_items(session, [item])
    task = new_task(job, item_id, TaskKind.ENTRY, now) | {
        "id": task_id,
        "status": TaskStatus.LEASED,
        "contractor_id": contractor_id,
        "lease_expires_at": lease_until,
        "claimed_at": now,
    }
    await tasks_repository.add_tasks(session, [task])
    received = ReceivedItem(item_id=item["id"], external_id=None, golden=True, control_copy=True)
    await publish(
        session,
        ItemsReceived(
            job_id=job.id,
            client_id=job.client_id,
            work_type=job.work_type,
            items=[received],
            received_at=now,
        ),
        client_id=job.client_id,
    )
    shown = await repository.control_task(session, task["id"])
    return {name: getattr(job, name) for name in _JOB_COLUMNS} | {"job_id": job.id} | shown
