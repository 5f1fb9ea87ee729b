"""Uploads of documents and leases' expiries seen, so that each is counted once.

Revision ID: reporting_0009
Revises: reporting_0008
Create Date: 2026-12-06 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0009"
down_revision = "reporting_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_fact",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "added_at", name=op.f("pk_upload_fact")),
    )
    op.create_table(
        "expiry_fact",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "attempts", name=op.f("pk_expiry_fact")),
    )


def downgrade() -> None:
    op.drop_table("expiry_fact")
    op.drop_table("upload_fact")
