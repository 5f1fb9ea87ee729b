"""A contractor keeps when a manager last reactivated them (`reactivated_at`), so that a
suspension of validation's made before it and read late changes nothing. A contractor
reactivated before this revision has none: a late suspension of theirs still applies.

Revision ID: intake_0031
Revises: intake_0030
Create Date: 2026-12-19 09:00:00+00:00
"""

from alembic import op

revision = "intake_0031"
down_revision = "intake_0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE contractor ADD COLUMN IF NOT EXISTS reactivated_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE contractor DROP COLUMN reactivated_at")
