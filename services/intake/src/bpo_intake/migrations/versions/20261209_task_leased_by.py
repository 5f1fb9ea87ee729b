"""Whether a doubted keyer is at work, holding a lease: a claim asks, so that second keyings
wait only for a doubted keyer who is there to take them.

Revision ID: intake_0022
Revises: intake_0021
Create Date: 2026-12-09 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0022"
down_revision = "intake_0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_task_leased_by",
        "task",
        ["contractor_id"],
        postgresql_where=sa.text("status = 'leased'"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_leased_by", table_name="task")
