"""A job's items received (control items aside), which adaptive QC holds its bound over.

Revision ID: validation_0020
Revises: validation_0019
Create Date: 2026-12-07 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0020"
down_revision = "validation_0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_rules", sa.Column("items", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("job_rules", "items")
