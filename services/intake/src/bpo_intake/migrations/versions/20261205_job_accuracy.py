"""The accuracy an adaptive job delivered, as validation announced it once the job completed.

Revision ID: intake_0016
Revises: intake_0015
Create Date: 2026-12-05 18:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0016"
down_revision = "intake_0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_accuracy",
        sa.Column("job_id", sa.Uuid(), nullable=False),
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
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_job_accuracy_job_id_job")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_accuracy")),
    )


def downgrade() -> None:
    op.drop_table("job_accuracy")
