"""The queue index leads with the task's role (first keying or second), so that a claim walks
the queued tasks of each role in order without stepping over those of the other: a claim
looks for second keyings too, and walked past every queued first keying to find none.

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


def upgrade() -> None:
    op.drop_index("ix_task_queue", table_name="task", postgresql_where=QUEUED)
    op.create_index(
        "ix_task_queue",
        "task",
        ["rekey", sa.text("due_at NULLS LAST"), sa.text("priority DESC"), "id"],
        postgresql_where=QUEUED,
    )


def downgrade() -> None:
    op.drop_index("ix_task_queue", table_name="task", postgresql_where=QUEUED)
    op.create_index(
        "ix_task_queue",
        "task",
        [sa.text("due_at NULLS LAST"), sa.text("priority DESC"), "id"],
        postgresql_where=QUEUED,
    )
