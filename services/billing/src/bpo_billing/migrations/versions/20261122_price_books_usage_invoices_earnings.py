"""Price books, the usage ledger, invoices and their numbering, payments, credit notes, SLA
credits, piece rates and contractor earnings.

Revision ID: billing_0002
Revises: billing_0001
Create Date: 2026-11-22 14:25:59.575218+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "billing_0002"
down_revision = "billing_0001"
branch_labels = None
depends_on = None

# Created once here, used by several tables.
ENUMS = [
    postgresql.ENUM("entry", "review", "adjudication", name="taskkind", create_type=False),
    postgresql.ENUM("accepted", "overturned", "rejected", name="outcome", create_type=False),
    postgresql.ENUM("draft", "finalized", "paid", "void", name="invoicestatus", create_type=False),
    postgresql.ENUM("usage", "minimum_fee", "sla_credit", name="linekind", create_type=False),
]
TASK_KIND, OUTCOME, INVOICE_STATUS, LINE_KIND = ENUMS

# Once finalized, an invoice's figures and lines never change, whatever code runs: only its
# settlement (status, amounts paid and credited, dates) moves on.
FREEZE_INVOICE = """
CREATE FUNCTION invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' AND (
    NEW.number IS DISTINCT FROM OLD.number OR NEW.client_id <> OLD.client_id
    OR NEW.currency <> OLD.currency OR NEW.period_start <> OLD.period_start
    OR NEW.period_end <> OLD.period_end OR NEW.tax_rate <> OLD.tax_rate
    OR NEW.subtotal <> OLD.subtotal OR NEW.tax <> OLD.tax OR NEW.total <> OLD.total
    OR NEW.finalized_at IS DISTINCT FROM OLD.finalized_at
  ) THEN
    RAISE EXCEPTION 'invoice % is %: its figures never change', OLD.id, OLD.status;
  END IF;
  RETURN NEW;
END $$
"""
FREEZE_LINES = """
CREATE FUNCTION invoice_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  target uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
BEGIN
  IF EXISTS (SELECT 1 FROM invoice WHERE id = target AND status <> 'draft') THEN
    RAISE EXCEPTION 'invoice % is no longer a draft: its lines never change', target;
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$
"""


def upgrade() -> None:
    for enum in ENUMS:
        enum.create(op.get_bind())
    op.create_table(
        "earning",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("kind", TASK_KIND, nullable=False),
        sa.Column("outcome", OUTCOME, nullable=False),
        sa.Column("golden", sa.Boolean(), nullable=False),
        sa.Column("factor", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("rate", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("amount", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earning")),
        sa.UniqueConstraint("task_id", name=op.f("uq_earning_task_id")),
    )
    op.create_index(
        "ix_earning_contractor_id_earned_at",
        "earning",
        ["contractor_id", "earned_at"],
        unique=False,
    )
    op.create_index(op.f("ix_earning_job_id"), "earning", ["job_id"], unique=False)
    op.create_table(
        "invoice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("status", INVOICE_STATUS, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("price_book_id", sa.Uuid(), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=7, scale=6), nullable=False),
        sa.Column("subtotal", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("tax", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column(
            "amount_credited",
            sa.Numeric(precision=20, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "amount_paid",
            sa.Numeric(precision=20, scale=4),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice")),
        sa.UniqueConstraint("number", name=op.f("uq_invoice_number")),
    )
    op.create_index("ix_invoice_client_id_status", "invoice", ["client_id", "status"], unique=False)
    op.create_table(
        "invoice_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_invoice_counter")),
    )
    op.create_table(
        "piece_rate",
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("kind", TASK_KIND, nullable=False),
        sa.Column("amount", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("work_type", "kind", name=op.f("pk_piece_rate")),
    )
    op.create_table(
        "price_book",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=7, scale=6), nullable=False),
        sa.Column("rates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rush", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("minimum_monthly_fee", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("sla_credit_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_book")),
        sa.UniqueConstraint(
            "client_id", "effective_from", name="uq_price_book_client_id_effective"
        ),
        sa.UniqueConstraint("client_id", "version", name="uq_price_book_client_id_version"),
    )
    op.create_table(
        "sla_credit",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_sla_credit")),
    )
    op.create_index(op.f("ix_sla_credit_client_id"), "sla_credit", ["client_id"], unique=False)
    op.create_table(
        "usage_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("fields", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price_book_id", sa.Uuid(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("field_price", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("rush_pct", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_line")),
        sa.UniqueConstraint("item_id", name=op.f("uq_usage_line_item_id")),
    )
    op.create_index(
        "ix_usage_line_client_id_completed_at",
        "usage_line",
        ["client_id", "completed_at"],
        unique=False,
    )
    op.create_index(
        "ix_usage_line_unbilled",
        "usage_line",
        ["client_id", "completed_at"],
        unique=False,
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.create_table(
        "volume_counter",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "work_type", "month", name=op.f("pk_volume_counter")),
    )
    op.create_table(
        "credit_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_credit_note_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note")),
    )
    op.create_index(op.f("ix_credit_note_invoice_id"), "credit_note", ["invoice_id"], unique=False)
    op.create_table(
        "invoice_line",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", LINE_KIND, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("work_type", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=24, scale=8), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_invoice_line_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "position", name=op.f("pk_invoice_line")),
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_payment_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    op.create_index(op.f("ix_payment_invoice_id"), "payment", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_invoice_line_job_id"), "invoice_line", ["job_id"], unique=False)
    op.add_column("billable_job", sa.Column("external_ref", sa.String(length=200), nullable=True))
    op.execute(FREEZE_INVOICE)
    op.execute(
        "CREATE TRIGGER invoice_frozen BEFORE UPDATE ON invoice "
        "FOR EACH ROW EXECUTE FUNCTION invoice_frozen()"
    )
    op.execute(FREEZE_LINES)
    op.execute(
        "CREATE TRIGGER invoice_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoice_line "
        "FOR EACH ROW EXECUTE FUNCTION invoice_line_frozen()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS invoice_line_frozen ON invoice_line")
    op.execute("DROP FUNCTION IF EXISTS invoice_line_frozen()")
    op.execute("DROP TRIGGER IF EXISTS invoice_frozen ON invoice")
    op.execute("DROP FUNCTION IF EXISTS invoice_frozen()")
    op.drop_column("billable_job", "external_ref")
    op.drop_index(op.f("ix_payment_invoice_id"), table_name="payment")
    op.drop_table("payment")
    op.drop_index(op.f("ix_invoice_line_job_id"), table_name="invoice_line")
    op.drop_table("invoice_line")
    op.drop_index(op.f("ix_credit_note_invoice_id"), table_name="credit_note")
    op.drop_table("credit_note")
    op.drop_table("volume_counter")
    op.drop_index(
        "ix_usage_line_unbilled",
        table_name="usage_line",
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.drop_index("ix_usage_line_client_id_completed_at", table_name="usage_line")
    op.drop_table("usage_line")
    op.drop_index(op.f("ix_sla_credit_client_id"), table_name="sla_credit")
    op.drop_table("sla_credit")
    op.drop_table("price_book")
    op.drop_table("piece_rate")
    op.drop_table("invoice_counter")
    op.drop_index("ix_invoice_client_id_status", table_name="invoice")
    op.drop_table("invoice")
    op.drop_index(op.f("ix_earning_job_id"), table_name="earning")
    op.drop_index("ix_earning_contractor_id_earned_at", table_name="earning")
    op.drop_table("earning")
    for enum in reversed(ENUMS):
        enum.drop(op.get_bind())
