"""The queue index leads with the task's role (first keying or second), so that a claim walks
the queued tasks of each role in order without stepping over those of the other: a claim
looks for second keyings too, and walked past every queued first keying to find none.

Built concurrently, under a name of its own, before the old index goes: claims and submits
go on while it is built, and never without an index on the queue.

Revision ID: intake_0023
Revises: intake_0022
Create Date: 2026-12-10 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0023"
down_revision = "intake_0022"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")
ORDER: list[sa.TextClause | str] = [sa.text("due_at NULLS LAST"), sa.text("priority DESC"), "id"]


def _replace_queue_index(columns: list[sa.TextClause | str]) -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_task_queue_next")
        op.create_index(
            "ix_task_queue_next",
            "task",
            columns,
            postgresql_where=QUEUED,
            postgresql_concurrently=True,
        )
        # IF EXISTS: a run stopped after this drop and before the rename starts again here.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_task_queue")
        op.execute("ALTER INDEX ix_task_queue_next RENAME TO ix_task_queue")


def upgrade() -> None:
    _replace_queue_index(["rekey", *ORDER])


def downgrade() -> None:
    _replace_queue_index(ORDER)
