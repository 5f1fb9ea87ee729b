"""Credit notes take numbers of their own gap-free series per year (`CN-2026-000001`), and
never change once issued.

Revision ID: billing_0003
Revises: billing_0002
Create Date: 2026-11-22 16:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None

# Notes issued before this revision are numbered in the order they were issued.
NUMBER_EXISTING = """
WITH numbered AS (
  SELECT id, extract(year FROM created_at AT TIME ZONE 'UTC')::int AS year,
         row_number() OVER (
           PARTITION BY extract(year FROM created_at AT TIME ZONE 'UTC') ORDER BY created_at, id
         ) AS ordinal
  FROM credit_note
)
UPDATE credit_note
SET number = 'CN-' || numbered.year || '-' || lpad(numbered.ordinal::text, 6, '0')
FROM numbered WHERE credit_note.id = numbered.id
"""
COUNT_EXISTING = """
INSERT INTO invoice_counter (series, year, last_number)
SELECT 'credit_note', extract(year FROM created_at AT TIME ZONE 'UTC')::int, count(*)
FROM credit_note GROUP BY 2
"""
FREEZE_CREDIT_NOTES = """
CREATE FUNCTION credit_note_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credit note % is issued: it never changes', OLD.number;
END $$
"""


def upgrade() -> None:
    op.add_column(
        "invoice_counter",
        sa.Column("series", sa.String(20), nullable=False, server_default="invoice"),
    )
    op.alter_column("invoice_counter", "series", server_default=None)
    op.drop_constraint("pk_invoice_counter", "invoice_counter", type_="primary")
    op.create_primary_key("pk_invoice_counter", "invoice_counter", ["series", "year"])
    op.add_column("credit_note", sa.Column("number", sa.String(20), nullable=True))
    op.execute(NUMBER_EXISTING)
    op.execute(COUNT_EXISTING)
    op.alter_column("credit_note", "number", nullable=False)
    op.create_unique_constraint("uq_credit_note_number", "credit_note", ["number"])
    op.execute(FREEZE_CREDIT_NOTES)
    op.execute(
        "CREATE TRIGGER credit_note_frozen BEFORE UPDATE OR DELETE ON credit_note "
        "FOR EACH ROW EXECUTE FUNCTION credit_note_frozen()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS credit_note_frozen ON credit_note")
    op.execute("DROP FUNCTION IF EXISTS credit_note_frozen()")
    op.drop_constraint("uq_credit_note_number", "credit_note", type_="unique")
    op.drop_column("credit_note", "number")
    op.execute("DELETE FROM invoice_counter WHERE series <> 'invoice'")
    op.drop_constraint("pk_invoice_counter", "invoice_counter", type_="primary")
    op.create_primary_key("pk_invoice_counter", "invoice_counter", ["year"])
    op.drop_column("invoice_counter", "series")
