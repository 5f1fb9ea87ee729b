"""A job that did not deliver its target accuracy with 95 % confidence is credited a share of
its items on the next invoice, as a late job is: the price book's `accuracy_credit_pct`, the
pending credits, and invoice lines of their own kind.

Revision ID: billing_0008
Revises: billing_0007
Create Date: 2026-12-05 13:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0008"
down_revision = "billing_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "price_book",
        sa.Column("accuracy_credit_pct", sa.Numeric(7, 4), server_default="0", nullable=False),
    )
    op.create_table(
        "accuracy_credit",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("target_accuracy", sa.Numeric(), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("assured", sa.Float(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_accuracy_credit")),
    )
    op.create_index(
        op.f("ix_accuracy_credit_client_id"), "accuracy_credit", ["client_id"], unique=False
    )
    op.execute("ALTER TYPE linekind ADD VALUE IF NOT EXISTS 'accuracy_credit' AFTER 'sla_credit'")


def downgrade() -> None:
    # PostgreSQL cannot take a value out of an enum: linekind keeps 'accuracy_credit', and the
    # lines of that kind stay on their invoices, whose figures never change once finalized.
    op.drop_index(op.f("ix_accuracy_credit_client_id"), table_name="accuracy_credit")
    op.drop_table("accuracy_credit")
    op.drop_column("price_book", "accuracy_credit_pct")
