"""Initial schema, with the outbox, inbox, dead-letter and idempotency tables.

Revision ID: billing_0001
Revises:
Create Date: 2026-11-22 12:10:58.438555+00:00
"""

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import create_plumbing_tables, drop_plumbing_tables

revision = "billing_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "billable_job",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_hours", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_billable_job")),
    )
    op.create_index(op.f("ix_billable_job_client_id"), "billable_job", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_billable_job_client_id"), table_name="billable_job")
    op.drop_table("billable_job")
    drop_plumbing_tables()
