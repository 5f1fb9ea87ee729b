"""Invoices remembered for the duplicate check whose vendor field is a VAT number, written GR
for Greece, are remembered as EL, its canonical form since this release: an invoice sent
again after it is then found (its vendor reads EL now). A vendor of another type stays.

Revision ID: validation_0030
Revises: validation_0029
Create Date: 2026-12-18 10:00:00+00:00
"""

from alembic import op

revision = "validation_0030"
down_revision = "validation_0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE seen_invoice s SET vendor = 'el' || substr(s.vendor, 3)
        WHERE s.vendor ~ '^gr[0-9]{9}$'
          AND EXISTS (
            SELECT 1 FROM entry e
            JOIN job_rules j ON j.job_id = e.job_id
            CROSS JOIN jsonb_array_elements(j.fields) f
            WHERE e.item_id = s.item_id
              AND f->>'name' = j.match->'duplicates'->>'vendor'
              AND f->>'type' = 'vat'
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: EL is the number written as Greece's VAT numbers are."""
