"""Indexes that let a claim find the items a contractor holds or has keyed.

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-11-22 13:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_task_submitted_by", table_name="task")
    op.drop_index("ix_task_contractor_id", table_name="task")
