"""An adaptive job's ledger says when the job completed and whether it met its target.

Revision ID: validation_0016
Revises: validation_0015
Create Date: 2026-12-05 14:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0016"
down_revision = "validation_0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "job_accuracy", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("job_accuracy", sa.Column("met", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("job_accuracy", "met")
    op.drop_column("job_accuracy", "delivered_at")
