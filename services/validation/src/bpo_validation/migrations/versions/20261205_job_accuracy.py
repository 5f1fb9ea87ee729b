"""An adaptive job's ledger of the accuracy it delivers, and an index for the crew's record on
a work type.

Revision ID: validation_0014
Revises: validation_0013
Create Date: 2026-12-05 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0014"
down_revision = "validation_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_accuracy",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("single", sa.Integer(), nullable=False),
        sa.Column("checked", postgresql.JSONB(), nullable=False),
        sa.Column("carried", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_accuracy")),
    )
    op.create_index("ix_judgement_work_type_judged_at", "judgement", ["work_type", "judged_at"])


def downgrade() -> None:
    op.drop_index("ix_judgement_work_type_judged_at", table_name="judgement")
    op.drop_table("job_accuracy")
