"""Billing keeps the latest accuracy verdict of a job, as intake does, a met one too: an older
verdict told late then changes nothing.

Revision ID: billing_0011
Revises: billing_0010
Create Date: 2026-12-09 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0011"
down_revision = "billing_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "accuracy_credit",
        sa.Column("met", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    # A met verdict with no credit given means nothing to the code before this revision.
    op.execute("DELETE FROM accuracy_credit WHERE met AND invoice_id IS NULL")
    op.drop_column("accuracy_credit", "met")
