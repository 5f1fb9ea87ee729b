"""A review or adjudication task keeps why validation asked for it (`reason`), for the person
who does it. One queued before this revision has none: validation's reason was not kept.

Revision ID: intake_0033
Revises: intake_0032
Create Date: 2026-12-21 09:00:00+00:00
"""

from alembic import op

revision = "intake_0033"
down_revision = "intake_0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task ADD COLUMN IF NOT EXISTS reason text")


def downgrade() -> None:
    op.execute("ALTER TABLE task DROP COLUMN reason")
