"""Whether a work type has a doubted keyer: a claim asks, so that the others take first keyings
first.

Revision ID: intake_0021
Revises: intake_0020
Create Date: 2026-12-08 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0021"
down_revision = "intake_0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_keyer_route_doubtful",
        "keyer_route",
        ["work_type"],
        postgresql_where=sa.text("doubtful"),
    )


def downgrade() -> None:
    op.drop_index("ix_keyer_route_doubtful", table_name="keyer_route")
