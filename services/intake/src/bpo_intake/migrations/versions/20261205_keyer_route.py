"""Second keyings are marked, and intake keeps which keyers adaptive QC doubts on a work type:
their claims take second keyings first.

Revision ID: intake_0017
Revises: intake_0016
Create Date: 2026-12-05 15:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0017"
down_revision = "intake_0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "task", sa.Column("rekey", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_table(
        "keyer_route",
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("doubtful", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contractor_id", "work_type", name=op.f("pk_keyer_route")),
    )


def downgrade() -> None:
    op.drop_table("keyer_route")
    op.drop_column("task", "rekey")
