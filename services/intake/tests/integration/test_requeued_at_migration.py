"""intake_0030: a task given up on that an earlier release's requeue made afresh (a task of
its kind for its item, made after it was last claimed) is marked as made afresh; one that no
task replaced yet is not."""

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy import select, update

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, run_upgrade
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task

from .keying import keying_job

MIGRATION = (
    Path(__file__).parents[2] / "src/bpo_intake/migrations/versions/20261218_task_requeued_at.py"
)
CLAIMED = datetime(2001, 1, 1, tzinfo=UTC)


async def test_a_task_an_earlier_requeue_replaced_is_marked_and_one_not_replaced_is_not(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    job = await keying_job(intake, tokens, 2, qc={"mode": "single"})
    async with intake_db() as session, session.begin():
        query = select(Task).where(Task.job_id == UUID(job["id"])).order_by(Task.item_id)
        replaced, alone = (await session.execute(query)).scalars()
        for task in (replaced, alone):
            task.status, task.attempts, task.claimed_at = TaskStatus.CANCELLED, 3, CLAIMED
        await session.flush()
        # As an earlier release's requeue left it: a task of its kind, made after its claim.
        afresh = Task(
            **{
                column: getattr(replaced, column)
                for column in ("job_id", "item_id", "client_id", "kind", "required_skills")
            },
            id=new_id(),
            status=TaskStatus.QUEUED,
            priority=0,
            attempts=0,
            differing=[],
            rekey=False,
            created_at=datetime.now(UTC),
        )
        session.add(afresh)
        await session.execute(
            update(Task).where(Task.id.in_([replaced.id, alone.id])).values(requeued_at=None)
        )

    await run_upgrade(intake_db, MIGRATION)

    async with intake_db() as session:
        marked = {
            task.id: task.requeued_at
            for task in (
                await session.execute(select(Task).where(Task.id.in_([replaced.id, alone.id])))
            ).scalars()
        }
    assert marked == {replaced.id: afresh.created_at, alone.id: None}
