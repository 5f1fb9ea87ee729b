"""A piece-rate book may pay per hour of active time too; an earning keeps that time.

Revision ID: billing_0004
Revises: billing_0003
Create Date: 2026-12-04 19:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0004"
down_revision = "billing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("piece_rate", sa.Column("per_hour", sa.Numeric(24, 8), nullable=True))
    op.add_column("earning", sa.Column("active_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("earning", "active_seconds")
    op.drop_column("piece_rate", "per_hour")
