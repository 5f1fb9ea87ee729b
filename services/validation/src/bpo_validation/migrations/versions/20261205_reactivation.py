"""When a manager last reactivated a contractor: the quality floor counts only the fields
judged after it.

Revision ID: validation_0015
Revises: validation_0014
Create Date: 2026-12-05 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0015"
down_revision = "validation_0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "standing", sa.Column("reactivated_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("standing", "reactivated_at")
