"""A job's documents and their pages, counted from DocumentsAdded.

Revision ID: reporting_0004
Revises: reporting_0003
Create Date: 2026-12-04 17:00:00.000000+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0004"
down_revision = "reporting_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("documents", "pages"):
        op.add_column(
            "job_fact",
            sa.Column(column, sa.Integer(), server_default=sa.text("0"), nullable=False),
        )


def downgrade() -> None:
    op.drop_column("job_fact", "pages")
    op.drop_column("job_fact", "documents")
