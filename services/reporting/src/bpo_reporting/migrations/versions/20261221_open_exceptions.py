"""Items held in validation's exception queue, waiting on their client: not the keyers' work.

Revision ID: reporting_0013
Revises: reporting_0012
Create Date: 2026-12-21 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0013"
down_revision = "reporting_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_exception_fact",
        sa.Column("exception_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exception_id", name=op.f("pk_open_exception_fact")),
    )
    op.create_index(
        op.f("ix_open_exception_fact_job_id"), "open_exception_fact", ["job_id"], unique=False
    )
    op.create_index(
        op.f("ix_open_exception_fact_item_id"), "open_exception_fact", ["item_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("open_exception_fact")
