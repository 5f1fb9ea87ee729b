"""Qualifications: a work type may require its contractors to pass a set of control items
first; each contractor's attempts, and the copies of the set's items an attempt gave. Items
two keyers agreed on, where the client allows, serve as controls.

Revision ID: intake_0020
Revises: intake_0019
Create Date: 2026-12-07 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0020"
down_revision = "intake_0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qualification",
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("pass_mark", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("retry_after_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_qualification_job_id_job")),
        sa.PrimaryKeyConstraint("work_type", name=op.f("pk_qualification")),
    )
    op.create_table(
        "qualification_attempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("pending", "passed", "failed", name="attemptoutcome"),
            nullable=False,
        ),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualification_attempt")),
    )
    op.add_column("item", sa.Column("attempt_id", sa.Uuid(), nullable=True))
    op.add_column(
        "item", sa.Column("agreed", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_index(
        "ix_item_agreed_pool", "item", ["client_id", "id"], postgresql_where=sa.text("agreed")
    )


def downgrade() -> None:
    op.drop_index("ix_item_agreed_pool", table_name="item")
    op.drop_column("item", "agreed")
    op.drop_column("item", "attempt_id")
    op.drop_table("qualification_attempt")
    op.drop_table("qualification")
    sa.Enum(name="attemptoutcome").drop(op.get_bind())
