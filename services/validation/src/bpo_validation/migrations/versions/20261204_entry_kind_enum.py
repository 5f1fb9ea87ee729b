"""An entry's kind is the task_kind enum (entry, review, adjudication) instead of free text.

Revision ID: validation_0005
Revises: validation_0004
Create Date: 2026-12-04 09:00:00.000000+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0005"
down_revision = "validation_0004"
branch_labels = None
depends_on = None

TASK_KIND = sa.Enum("entry", "review", "adjudication", name="task_kind")


def upgrade() -> None:
    TASK_KIND.create(op.get_bind())
    op.alter_column(
        "entry",
        "kind",
        existing_type=sa.String(length=20),
        type_=TASK_KIND,
        existing_nullable=False,
        postgresql_using="kind::task_kind",
    )


def downgrade() -> None:
    op.alter_column(
        "entry",
        "kind",
        existing_type=TASK_KIND,
        type_=sa.String(length=20),
        existing_nullable=False,
        postgresql_using="kind::text",
    )
    TASK_KIND.drop(op.get_bind())
