"""An erasure records when the erased values left the stream's events.

Revision ID: intake_0015
Revises: intake_0014
Create Date: 2026-12-05 12:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0015"
down_revision = "intake_0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "erasure", sa.Column("stream_erased_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("erasure", "stream_erased_at")
