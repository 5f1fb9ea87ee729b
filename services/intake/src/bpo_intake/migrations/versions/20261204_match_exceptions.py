"""A job's match rule; an item's open match exception and the `exception` status.

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-04 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0009"
down_revision = "intake_0008"
branch_labels = None
depends_on = None

STATUSES = ("pending", "in_progress", "in_review", "completed", "rejected")


def upgrade() -> None:
    op.add_column("job", sa.Column("match", postgresql.JSONB(astext_type=sa.Text())))
    op.add_column("item", sa.Column("exception_id", sa.Uuid()))
    op.add_column("item", sa.Column("exception_reasons", postgresql.JSONB(astext_type=sa.Text())))
    # Allowed in a transaction since PostgreSQL 12; nothing here uses the value before commit.
    op.execute("ALTER TYPE itemstatus ADD VALUE IF NOT EXISTS 'exception' AFTER 'in_review'")


def downgrade() -> None:
    # An enum value cannot be dropped: the type is made again without it, and the items that
    # waited on an exception wait in review.
    op.execute("UPDATE item SET status = 'in_review' WHERE status = 'exception'")
    op.execute("ALTER TYPE itemstatus RENAME TO itemstatus_old")
    sa.Enum(*STATUSES, name="itemstatus").create(op.get_bind())
    op.execute(
        "ALTER TABLE item ALTER COLUMN status TYPE itemstatus USING status::text::itemstatus"
    )
    op.execute("DROP TYPE itemstatus_old")
    op.drop_column("item", "exception_reasons")
    op.drop_column("item", "exception_id")
    op.drop_column("job", "match")
