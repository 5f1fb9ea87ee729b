"""Where an adjudication's keyings differ, kept on its task for the workbench to mark.

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-04 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0010"
down_revision = "intake_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "task",
        sa.Column(
            "differing",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("task", "differing")
