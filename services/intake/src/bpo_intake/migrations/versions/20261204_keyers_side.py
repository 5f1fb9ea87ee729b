"""A job's instructions for keyers; the seconds a contractor was active on a task.

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-04 18:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0007"
down_revision = "intake_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job", sa.Column("instructions", sa.Text(), nullable=True))
    op.add_column("task", sa.Column("active_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("task", "active_seconds")
    op.drop_column("job", "instructions")
