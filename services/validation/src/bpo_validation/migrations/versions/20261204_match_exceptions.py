"""Invoices against purchase orders: a job's match rule, match exceptions, the order lines
invoiced so far and the invoices seen (for duplicates); a decision may be an exception.

Revision ID: validation_0009
Revises: validation_0008
Create Date: 2026-12-04 22:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0009"
down_revision = "validation_0008"
branch_labels = None
depends_on = None

STATUS = postgresql.ENUM("open", "resolved", name="exceptionstatus", create_type=False)
ACTION = postgresql.ENUM("accept", "reject", "correct", name="exceptionaction", create_type=False)
JSON = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.execute("ALTER TYPE outcome ADD VALUE IF NOT EXISTS 'exception'")
    op.add_column("job_rules", sa.Column("match", JSON, nullable=True))
    STATUS.create(op.get_bind())
    ACTION.create(op.get_bind())
    op.create_table(
        "match_exception",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", ACTION, nullable=True),
        sa.Column("data", JSON, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("by_client", sa.Boolean(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_match_exception_item_id", "match_exception", ["item_id"])
    op.create_index(
        "ix_match_exception_client_status", "match_exception", ["client_id", "status", "id"]
    )
    op.create_table(
        "invoiced_line",
        sa.Column("item_id", sa.Uuid(), primary_key=True),
        sa.Column("order_key", sa.Text(), primary_key=True),
        sa.Column("line_key", sa.Text(), primary_key=True),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
    )
    op.create_index("ix_invoiced_line_order", "invoiced_line", ["client_id", "order_key"])
    op.create_table(
        "seen_invoice",
        sa.Column("item_id", sa.Uuid(), primary_key=True),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("vendor", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(), nullable=True),
        sa.Column("dated", sa.Date(), nullable=True),
    )
    op.create_index("ix_seen_invoice_vendor", "seen_invoice", ["client_id", "vendor"])


def downgrade() -> None:
    op.drop_table("seen_invoice")
    op.drop_table("invoiced_line")
    op.drop_table("match_exception")
    ACTION.drop(op.get_bind())
    STATUS.drop(op.get_bind())
    op.drop_column("job_rules", "match")
    # PostgreSQL cannot drop an enum value: decisions keep the type's 'exception'.
