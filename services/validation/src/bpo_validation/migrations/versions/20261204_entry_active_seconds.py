"""An entry keeps the seconds its contractor was active on it (billing may pay for them).

Revision ID: validation_0007
Revises: validation_0006
Create Date: 2026-12-04 19:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0007"
down_revision = "validation_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entry", sa.Column("active_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("entry", "active_seconds")
