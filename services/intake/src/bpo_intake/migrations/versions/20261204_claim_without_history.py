"""A claim no longer reads the contractor's past tasks: it checks each candidate item's own
tasks (ix_task_item_id), so the indexes on a task's holder and keyer go.

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-04 13:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_task_submitted_by", table_name="task")
    op.drop_index("ix_task_contractor_id", table_name="task")


def downgrade() -> None:
    op.create_index(
        "ix_task_contractor_id",
        "task",
        ["contractor_id"],
        postgresql_where=sa.text("contractor_id IS NOT NULL"),
    )
    op.create_index(
        "ix_task_submitted_by",
        "task",
        ["submitted_by"],
        postgresql_where=sa.text("submitted_by IS NOT NULL"),
    )
