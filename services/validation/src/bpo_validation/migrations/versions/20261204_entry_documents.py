"""An entry names the documents its item was keyed from.

Revision ID: validation_0006
Revises: validation_0005
Create Date: 2026-12-04 19:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0006"
down_revision = "validation_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "entry",
        sa.Column(
            "documents",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("entry", "documents")
