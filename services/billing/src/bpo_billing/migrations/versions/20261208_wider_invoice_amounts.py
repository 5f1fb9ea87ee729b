"""Invoice amounts hold up to 10^18 (they held under 10^16: 25,000 items at the highest prices
a price book takes overflowed a line): invoice totals and settlements, lines, credit notes,
payments and the minimum fee, and a line's unit price (a whole credit or fee on its own line).
A numeric's precision raised at the same scale rewrites no table.

Revision ID: billing_0010
Revises: billing_0009
Create Date: 2026-12-08 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0010"
down_revision = "billing_0009"
branch_labels = None
depends_on = None

MONEY = {
    "invoice": ("subtotal", "tax", "total", "amount_credited", "amount_paid"),
    "invoice_line": ("amount",),
    "credit_note": ("amount",),
    "payment": ("amount",),
    "price_book": ("minimum_monthly_fee",),
}


def _widen(money: sa.Numeric, line_price: sa.Numeric) -> None:
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(table, column, type_=money)
    op.alter_column("invoice_line", "unit_price", type_=line_price)


def upgrade() -> None:
    _widen(sa.Numeric(precision=22, scale=4), sa.Numeric(precision=26, scale=8))


def downgrade() -> None:
    # Fails (numeric field overflow) while an amount past the old bound is stored.
    _widen(sa.Numeric(precision=20, scale=4), sa.Numeric(precision=24, scale=8))
