"""A judged field's name holds a table cell's, `table.column`: up to 63 + 1 + 63 characters,
where the column kept 100 (a job with longer names had every judgement refused, and its items
never decided). Widening a varchar rewrites neither the tables nor their indexes.

Revision ID: validation_0024
Revises: validation_0023
Create Date: 2026-12-13 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0024"
down_revision = "validation_0023"
branch_labels = None
depends_on = None

TABLES = ("judgement", "provisional_judgement")


def upgrade() -> None:
    for table in TABLES:
        op.alter_column(table, "field", type_=sa.String(127), existing_type=sa.String(100))


def downgrade() -> None:
    for table in TABLES:
        op.alter_column(table, "field", type_=sa.String(100), existing_type=sa.String(127))
