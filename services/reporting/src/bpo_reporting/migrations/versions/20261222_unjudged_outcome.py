"""A task on an item its job's cancel left undecided is kept as `unjudged`.

Revision ID: reporting_0014
Revises: reporting_0013
Create Date: 2026-12-22 09:00:00+00:00
"""

from alembic import op

revision = "reporting_0014"
down_revision = "reporting_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE taskoutcome ADD VALUE IF NOT EXISTS 'unjudged' AFTER 'rejected'")


def downgrade() -> None:
    # PostgreSQL cannot take a value out of an enum: taskoutcome keeps 'unjudged', and the
    # tasks of that outcome stay.
    pass
