"""What the service erased of a job or of some of its items, per erasure intake asked for.

Revision ID: reporting_0007
Revises: reporting_0006
Create Date: 2026-12-05 12:00:00+00:00
"""

from bpo_common.migrations import create_erasure_table, drop_erasure_table

revision = "reporting_0007"
down_revision = "reporting_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_erasure_table()


def downgrade() -> None:
    drop_erasure_table()
