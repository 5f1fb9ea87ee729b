"""Contractors, tasks with leases, job rules and lifecycle times, flagged items.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-22 12:32:51.582266+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contractor",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("skills", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status", sa.Enum("active", "suspended", name="contractorstatus"), nullable=False
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor")),
    )
    op.create_table(
        "task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("entry", "review", "adjudication", name="taskkind"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum("queued", "leased", "submitted", "cancelled", name="taskstatus"),
            nullable=False,
        ),
        sa.Column("required_skills", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contractor_id", sa.Uuid(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("entries", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_task_item_id_item")),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_task_job_id_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    op.create_index("ix_task_item_id", "task", ["item_id"], unique=False)
    op.create_index(
        "ix_task_lease",
        "task",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'leased'"),
    )
    op.create_index(
        "ix_task_queue",
        "task",
        [sa.literal_column("due_at NULLS LAST"), sa.literal_column("priority DESC"), "id"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.add_column("item", sa.Column("flagged_reason", sa.Text(), nullable=True))
    op.add_column(
        "job",
        sa.Column(
            "rules",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.alter_column("job", "rules", server_default=None)
    op.add_column("job", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("job", "cancelled_at")
    op.drop_column("job", "closed_at")
    op.drop_column("job", "rules")
    op.drop_column("item", "flagged_reason")
    op.drop_index("ix_task_queue", table_name="task", postgresql_where=sa.text("status = 'queued'"))
    op.drop_index("ix_task_lease", table_name="task", postgresql_where=sa.text("status = 'leased'"))
    op.drop_index("ix_task_item_id", table_name="task")
    op.drop_table("task")
    op.drop_table("contractor")
    op.execute("DROP TYPE taskstatus, taskkind, contractorstatus")
