"""The adaptive ledger's items by their tables' rows, kept apart from its shares (which a
release from before it reads as five numbers each).

Revision ID: validation_0031
Revises: validation_0030
Create Date: 2026-12-20 10:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0031"
down_revision = "validation_0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "job_accuracy", sa.Column("sizes", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("job_accuracy", "sizes")
