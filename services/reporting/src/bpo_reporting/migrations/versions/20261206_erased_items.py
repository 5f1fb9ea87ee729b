"""Items closed because their data was erased before they were decided, apart from rejections.

Revision ID: reporting_0010
Revises: reporting_0009
Create Date: 2026-12-06 13:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0010"
down_revision = "reporting_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item_fact", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "job_fact",
        sa.Column("items_erased", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("job_fact", "items_erased")
    op.drop_column("item_fact", "erased_at")
