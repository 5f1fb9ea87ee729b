"""The data keys of the jobs validation has values of, wrapped as intake gave them.

Revision ID: validation_0012
Revises: validation_0011
Create Date: 2026-12-05 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0012"
down_revision = "validation_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_data_key",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_data_key")),
    )


def downgrade() -> None:
    op.drop_table("job_data_key")
