"""Erasure: each erasure asked for a job or some of its items, with when each service did
it; a client's retention of its data.

Revision ID: intake_0014
Revises: intake_0013
Create Date: 2026-12-05 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0014"
down_revision = "intake_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("client", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.create_table(
        "erasure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("item_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intake_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("validation_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billing_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reporting_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_erasure_job_id_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure")),
    )
    op.create_index("ix_erasure_job_id", "erasure", ["job_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_erasure_job_id", table_name="erasure")
    op.drop_table("erasure")
    op.drop_column("client", "retention_days")
