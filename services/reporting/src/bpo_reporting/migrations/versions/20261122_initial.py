"""Initial schema, with the outbox, inbox, dead-letter and idempotency tables.

Revision ID: reporting_0001
Revises:
Create Date: 2026-11-22 12:11:01.738257+00:00
"""

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import create_plumbing_tables, drop_plumbing_tables

revision = "reporting_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "item_fact",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("golden", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_fact")),
    )
    op.create_index(op.f("ix_item_fact_received_at"), "item_fact", ["received_at"], unique=False)
    op.create_table(
        "hourly_rollup",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items_received", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "work_type", "hour", name=op.f("pk_hourly_rollup")),
    )
    op.create_index(op.f("ix_hourly_rollup_hour"), "hourly_rollup", ["hour"], unique=False)
    op.create_table(
        "job_fact",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_fact")),
    )
    op.create_index(op.f("ix_job_fact_client_id"), "job_fact", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hourly_rollup_hour"), table_name="hourly_rollup")
    op.drop_table("hourly_rollup")
    op.drop_index(op.f("ix_job_fact_client_id"), table_name="job_fact")
    op.drop_table("job_fact")
    op.drop_index(op.f("ix_item_fact_received_at"), table_name="item_fact")
    op.drop_table("item_fact")
    drop_plumbing_tables()
