"""Task kinds and outcomes, and ledger kinds, as enum columns instead of free text.

Revision ID: reporting_0003
Revises: reporting_0002
Create Date: 2026-12-04 10:00:00.000000+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "reporting_0003"
down_revision = "reporting_0002"
branch_labels = None
depends_on = None

TASK_KIND = postgresql.ENUM("entry", "review", "adjudication", name="taskkind")
TASK_OUTCOME = postgresql.ENUM("accepted", "overturned", "rejected", name="taskoutcome")
LEDGER_KIND = postgresql.ENUM("usage", "earning", name="ledgerkind")

# (table, column, enum type, the column's text length before)
COLUMNS = [
    ("task_fact", "kind", TASK_KIND, 20),
    ("task_fact", "outcome", TASK_OUTCOME, 20),
    ("ledger_fact", "kind", LEDGER_KIND, 10),
]


def upgrade() -> None:
    for enum in (TASK_KIND, TASK_OUTCOME, LEDGER_KIND):
        enum.create(op.get_bind())
    for table, column, enum, length in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=enum,
            existing_type=sa.String(length=length),
            postgresql_using=f"{column}::{enum.name}",
        )


def downgrade() -> None:
    for table, column, enum, length in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(length=length),
            existing_type=enum,
            postgresql_using=f"{column}::text",
        )
    for enum in (LEDGER_KIND, TASK_OUTCOME, TASK_KIND):
        enum.drop(op.get_bind())
