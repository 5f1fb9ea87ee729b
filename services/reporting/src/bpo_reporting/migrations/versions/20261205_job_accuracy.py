"""The accuracy each adaptive job delivered, from JobAccuracyDelivered.

Revision ID: reporting_0008
Revises: reporting_0007
Create Date: 2026-12-05 18:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0008"
down_revision = "reporting_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_accuracy_fact",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("target", sa.Numeric(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("single_keyed", sa.Integer(), nullable=False),
        sa.Column("keyed_twice", sa.Integer(), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("lower", sa.Float(), nullable=True),
        sa.Column("upper", sa.Float(), nullable=True),
        sa.Column("assured", sa.Float(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_accuracy_fact")),
    )
    op.create_index(op.f("ix_job_accuracy_fact_decided_at"), "job_accuracy_fact", ["decided_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_accuracy_fact_decided_at"), table_name="job_accuracy_fact")
    op.drop_table("job_accuracy_fact")
