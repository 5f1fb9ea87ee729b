"""A partial second keying earns its share of the piece rate: each earning keeps the share
of the job's fields its task keyed.

Revision ID: billing_0009
Revises: billing_0008
Create Date: 2026-12-07 10:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0009"
down_revision = "billing_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "earning",
        sa.Column(
            "share",
            sa.Numeric(precision=5, scale=4),
            server_default=sa.text("1"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("earning", "share")
