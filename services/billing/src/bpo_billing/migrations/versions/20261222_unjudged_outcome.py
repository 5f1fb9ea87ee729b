"""A task on an item its job's cancel left undecided earns, as `unjudged` work.

Revision ID: billing_0013
Revises: billing_0012
Create Date: 2026-12-22 09:00:00+00:00
"""

from alembic import op

revision = "billing_0013"
down_revision = "billing_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE outcome ADD VALUE IF NOT EXISTS 'unjudged' AFTER 'rejected'")


def downgrade() -> None:
    # PostgreSQL cannot take a value out of an enum: outcome keeps 'unjudged', and the
    # earnings of that outcome stay as they were paid.
    pass
