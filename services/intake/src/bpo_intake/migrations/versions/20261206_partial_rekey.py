"""A partial second keying: a task keys only the fields adaptive QC named.

Revision ID: intake_0019
Revises: intake_0018
Create Date: 2026-12-06 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0019"
down_revision = "intake_0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "task",
        sa.Column("keyed_fields", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("task", "keyed_fields")
