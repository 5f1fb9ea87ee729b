"""Whether each keyer's first keyings on a work type are among the least trusted, as last said
to intake.

Revision ID: validation_0017
Revises: validation_0016
Create Date: 2026-12-05 15:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0017"
down_revision = "validation_0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
