"""A price book may price each match exception the client's own people resolve; such an
exception is a usage line of its own kind (naming its item, which keeps its own line) and
is invoiced on lines of its own kind.

Revision ID: billing_0005
Revises: billing_0004
Create Date: 2026-12-04 21:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "billing_0005"
down_revision = "billing_0004"
branch_labels = None
depends_on = None

USAGE_KIND = postgresql.ENUM("item", "exception", name="usagekind", create_type=False)


def upgrade() -> None:
    op.add_column("price_book", sa.Column("per_exception", sa.Numeric(24, 8), nullable=True))
    USAGE_KIND.create(op.get_bind())
    op.add_column(
        "usage_line", sa.Column("kind", USAGE_KIND, server_default="item", nullable=False)
    )
    op.add_column("usage_line", sa.Column("exception_id", sa.Uuid(), nullable=True))
    # One line per item and one per exception: an item whose exception was billed has both.
    op.drop_constraint("uq_usage_line_item_id", "usage_line", type_="unique")
    op.create_index(
        "uq_usage_line_item_id",
        "usage_line",
        ["item_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'item'"),
    )
    op.create_index(
        "uq_usage_line_exception_id",
        "usage_line",
        ["exception_id"],
        unique=True,
        postgresql_where=sa.text("exception_id IS NOT NULL"),
    )
    op.execute("ALTER TYPE linekind ADD VALUE IF NOT EXISTS 'exception' AFTER 'usage'")


def downgrade() -> None:
    # PostgreSQL cannot take a value out of an enum: linekind keeps 'exception'. The charges
    # for exceptions go, billed or not, since the ledger before this knows only items.
    op.execute("DELETE FROM usage_line WHERE kind = 'exception'")
    op.drop_index("uq_usage_line_exception_id", table_name="usage_line")
    op.drop_index("uq_usage_line_item_id", table_name="usage_line")
    op.create_unique_constraint("uq_usage_line_item_id", "usage_line", ["item_id"])
    op.drop_column("usage_line", "exception_id")
    op.drop_column("usage_line", "kind")
    USAGE_KIND.drop(op.get_bind())
    op.drop_column("price_book", "per_exception")
