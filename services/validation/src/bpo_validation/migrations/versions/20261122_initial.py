"""Initial schema, with the outbox, inbox, dead-letter and idempotency tables.

Revision ID: validation_0001
Revises:
Create Date: 2026-11-22 12:10:55.161961+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bpo_common.migrations import create_plumbing_tables, drop_plumbing_tables

revision = "validation_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "job_rules",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("qc", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_rules")),
    )
    op.create_index(op.f("ix_job_rules_client_id"), "job_rules", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_job_rules_client_id"), table_name="job_rules")
    op.drop_table("job_rules")
    drop_plumbing_tables()
