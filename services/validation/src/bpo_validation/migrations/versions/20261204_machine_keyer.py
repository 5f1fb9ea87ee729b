"""The machine as a keyer: an entry's pre-fill and layout; a judged field's layout (the
machine's) and whether a keyer kept a wrong pre-fill.

Revision ID: validation_0008
Revises: validation_0007
Create Date: 2026-12-04 20:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0008"
down_revision = "validation_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "entry",
        sa.Column(
            "suggestions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("entry", sa.Column("layout_id", sa.Uuid(), nullable=True))
    op.add_column("judgement", sa.Column("layout_id", sa.Uuid(), nullable=True))
    op.add_column("judgement", sa.Column("accepted_wrong_prefill", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("judgement", "accepted_wrong_prefill")
    op.drop_column("judgement", "layout_id")
    op.drop_column("entry", "layout_id")
    op.drop_column("entry", "suggestions")
