"""intake_0034: a review an earlier release's requeue left cancelled, replacing it by an entry
task (BPO_INTAKE_MAX_ATTEMPTS raised meanwhile), is marked as made afresh, so a later requeue
does not bring it back; a task given up on that waits for its requeue is not."""

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, run_upgrade
from bpo_intake.domain.tasks import TaskStatus, flag_reason
from bpo_intake.models import Item, Task

from .keying import keying_job

MIGRATION = (
    Path(__file__).parents[2]
    / "src/bpo_intake/migrations/versions/20261222_stale_given_up_tasks.py"
)
CLAIMED = datetime(2001, 1, 1, tzinfo=UTC)


def _entry_task_after(task: Task) -> Task:
    """The entry task an earlier release's requeue made in place of `task`."""
    return Task(
        **{column: getattr(task, column) for column in ("job_id", "item_id", "client_id")},
        id=new_id(),
        kind=TaskKind.ENTRY,
        required_skills=[],
        status=TaskStatus.QUEUED,
        priority=0,
        attempts=0,
        differing=[],
        rekey=False,
        created_at=datetime.now(UTC),
    )


async def test_a_review_left_behind_by_an_earlier_requeue_is_not_made_afresh_again(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await keying_job(intake, tokens, 3)
    async with intake_db() as session, session.begin():
        query = select(Task).where(Task.job_id == UUID(job["id"])).order_by(Task.item_id)
        settled, reflagged, waiting = (await session.execute(query)).scalars()
        for task in (settled, reflagged, waiting):
            task.kind, task.entries = TaskKind.REVIEW, []
            task.status, task.attempts, task.claimed_at = TaskStatus.CANCELLED, 3, CLAIMED
        await session.flush()
        replacing = _entry_task_after(reflagged)
        session.add_all([_entry_task_after(settled), replacing])
        # One item requeued since and flagged again (its entry task nobody may take), one
        # whose review was given up and waits for a requeue.
        items = {
            item.id: item
            for item in (
                await session.execute(
                    select(Item).where(Item.id.in_([reflagged.item_id, waiting.item_id]))
                )
            ).scalars()
        }
        items[reflagged.item_id].flagged_reason = "no active contractor may take its entry task"
        items[waiting.item_id].flagged_reason = flag_reason(TaskKind.REVIEW, 3)

    await run_upgrade(intake_db, MIGRATION)

    async with intake_db() as session:
        query = select(Task).where(Task.id.in_([settled.id, reflagged.id, waiting.id]))
        marks = {task.id: task.requeued_at for task in (await session.execute(query)).scalars()}
    assert marks[reflagged.id] == replacing.created_at
    assert marks[settled.id] is not None
    assert marks[waiting.id] is None

    for task in (reflagged, waiting):
        requeued = await intake.post(f"/v1/items/{task.item_id}/requeue", headers=tokens.manager())
        assert requeued.json()["flagged_reason"] is None, requeued.text
    async with intake_db() as session:
        kinds = (
            await session.execute(
                select(Task.item_id, Task.kind).where(
                    Task.item_id.in_([reflagged.item_id, waiting.item_id]),
                    Task.status == TaskStatus.QUEUED,
                )
            )
        ).all()
    assert sorted(kinds) == sorted(
        [(reflagged.item_id, TaskKind.ENTRY), (waiting.item_id, TaskKind.REVIEW)]
    ), "the item requeued since keeps its entry task alone; the waiting review is made afresh"
