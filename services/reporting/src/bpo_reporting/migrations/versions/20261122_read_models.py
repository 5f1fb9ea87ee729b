"""Read models: job, item, task and ledger facts; hourly, turnaround, money, contractor rollups.

Revision ID: reporting_0002
Revises: reporting_0001
Create Date: 2026-11-22 14:26:14.664368+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every counter defaults to zero, the first one too.
    op.alter_column("hourly_rollup", "items_received", server_default=sa.text("0"))
    op.create_table(
        "contractor_earning_rollup",
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "contractor_id", "hour", "currency", name=op.f("pk_contractor_earning_rollup")
        ),
    )
    op.create_index(
        op.f("ix_contractor_earning_rollup_hour"),
        "contractor_earning_rollup",
        ["hour"],
        unique=False,
    )
    op.create_table(
        "contractor_rollup",
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tasks_submitted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("submit_seconds", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("tasks_expired", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("entries_accepted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("entries_overturned", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("entries_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("fields_judged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("fields_correct", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("contractor_id", "hour", name=op.f("pk_contractor_rollup")),
    )
    op.create_index(op.f("ix_contractor_rollup_hour"), "contractor_rollup", ["hour"], unique=False)
    op.create_table(
        "ledger_fact",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_fact")),
    )
    op.create_table(
        "money_rollup",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("revenue", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("contractor_cost", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "work_type", "hour", "currency", name=op.f("pk_money_rollup")
        ),
    )
    op.create_index(op.f("ix_money_rollup_hour"), "money_rollup", ["hour"], unique=False)
    op.create_table(
        "task_fact",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("fields_judged", sa.Integer(), nullable=True),
        sa.Column("fields_correct", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_fact")),
    )
    op.create_index(
        op.f("ix_task_fact_contractor_id"), "task_fact", ["contractor_id"], unique=False
    )
    op.create_table(
        "turnaround_rollup",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bin", sa.SmallInteger(), nullable=False),
        sa.Column("items", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "work_type", "hour", "bin", name=op.f("pk_turnaround_rollup")
        ),
    )
    op.create_index(op.f("ix_turnaround_rollup_hour"), "turnaround_rollup", ["hour"], unique=False)
    op.add_column(
        "hourly_rollup",
        sa.Column("items_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("items_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("jobs_sla_met", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("jobs_sla_missed", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("entries_accepted", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("entries_overturned", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("entries_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("fields_judged", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "hourly_rollup",
        sa.Column("fields_correct", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "item_fact", sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("item_fact", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("item_fact", sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("item_fact", sa.Column("turnaround_s", sa.Double(), nullable=True))
    op.alter_column("item_fact", "golden", existing_type=sa.BOOLEAN(), nullable=True)
    op.alter_column(
        "item_fact", "received_at", existing_type=postgresql.TIMESTAMP(timezone=True), nullable=True
    )
    op.drop_index(op.f("ix_item_fact_received_at"), table_name="item_fact")
    op.add_column("job_fact", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job_fact", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job_fact", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "job_fact",
        sa.Column("items_received", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "job_fact",
        sa.Column("items_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "job_fact",
        sa.Column("items_rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.alter_column("job_fact", "work_type", existing_type=sa.VARCHAR(length=100), nullable=True)
    op.alter_column(
        "job_fact", "created_at", existing_type=postgresql.TIMESTAMP(timezone=True), nullable=True
    )
    op.create_index(
        "ix_job_fact_open",
        "job_fact",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("completed_at IS NULL AND cancelled_at IS NULL"),
    )


def downgrade() -> None:
    op.alter_column("hourly_rollup", "items_received", server_default=None)
    op.drop_index(
        "ix_job_fact_open",
        table_name="job_fact",
        postgresql_where=sa.text("completed_at IS NULL AND cancelled_at IS NULL"),
    )
    op.alter_column(
        "job_fact", "created_at", existing_type=postgresql.TIMESTAMP(timezone=True), nullable=False
    )
    op.alter_column("job_fact", "work_type", existing_type=sa.VARCHAR(length=100), nullable=False)
    op.drop_column("job_fact", "items_rejected")
    op.drop_column("job_fact", "items_completed")
    op.drop_column("job_fact", "items_received")
    op.drop_column("job_fact", "cancelled_at")
    op.drop_column("job_fact", "completed_at")
    op.drop_column("job_fact", "closed_at")
    op.create_index(op.f("ix_item_fact_received_at"), "item_fact", ["received_at"], unique=False)
    op.alter_column(
        "item_fact",
        "received_at",
        existing_type=postgresql.TIMESTAMP(timezone=True),
        nullable=False,
    )
    op.alter_column("item_fact", "golden", existing_type=sa.BOOLEAN(), nullable=False)
    op.drop_column("item_fact", "turnaround_s")
    op.drop_column("item_fact", "rejected_at")
    op.drop_column("item_fact", "completed_at")
    op.drop_column("item_fact", "first_claimed_at")
    op.drop_column("hourly_rollup", "fields_correct")
    op.drop_column("hourly_rollup", "fields_judged")
    op.drop_column("hourly_rollup", "entries_rejected")
    op.drop_column("hourly_rollup", "entries_overturned")
    op.drop_column("hourly_rollup", "entries_accepted")
    op.drop_column("hourly_rollup", "jobs_sla_missed")
    op.drop_column("hourly_rollup", "jobs_sla_met")
    op.drop_column("hourly_rollup", "items_rejected")
    op.drop_column("hourly_rollup", "items_completed")
    op.drop_index(op.f("ix_turnaround_rollup_hour"), table_name="turnaround_rollup")
    op.drop_table("turnaround_rollup")
    op.drop_index(op.f("ix_task_fact_contractor_id"), table_name="task_fact")
    op.drop_table("task_fact")
    op.drop_index(op.f("ix_money_rollup_hour"), table_name="money_rollup")
    op.drop_table("money_rollup")
    op.drop_table("ledger_fact")
    op.drop_index(op.f("ix_contractor_rollup_hour"), table_name="contractor_rollup")
    op.drop_table("contractor_rollup")
    op.drop_index(op.f("ix_contractor_earning_rollup_hour"), table_name="contractor_earning_rollup")
    op.drop_table("contractor_earning_rollup")
