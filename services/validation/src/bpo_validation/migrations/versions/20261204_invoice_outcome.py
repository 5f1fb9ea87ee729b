"""A match exception's outcome for the invoice as a whole.

Revision ID: validation_0010
Revises: validation_0009
Create Date: 2026-12-04 23:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0010"
down_revision = "validation_0009"
branch_labels = None
depends_on = None

OUTCOME = postgresql.ENUM(
    "duplicate", "no_order", "mismatch", "matched", name="invoiceoutcome", create_type=False
)


def upgrade() -> None:
    OUTCOME.create(op.get_bind())
    op.add_column(
        "match_exception",
        sa.Column("outcome", OUTCOME, nullable=False, server_default="mismatch"),
    )
    op.alter_column("match_exception", "outcome", server_default=None)


def downgrade() -> None:
    op.drop_column("match_exception", "outcome")
    OUTCOME.drop(op.get_bind())
