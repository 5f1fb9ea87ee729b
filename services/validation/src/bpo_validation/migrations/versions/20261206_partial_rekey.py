"""A partial second keying keeps the fields it keyed: the item's keyings are compared and
judged on those only; a job's ledger counts the items keyed so apart.

Revision ID: validation_0018
Revises: validation_0017
Create Date: 2026-12-06 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0018"
down_revision = "validation_0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "entry",
        sa.Column(
            "keyed_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "job_accuracy",
        sa.Column(
            "partly",
            postgresql.JSONB(),
            server_default=sa.text("'[0, 0, 0, 0]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("job_accuracy", "partly")
    op.drop_column("entry", "keyed_fields")
