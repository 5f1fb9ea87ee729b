"""When each job was cancelled: a keying of a cancelled job's item, applied after the cancel
(a batch retried event by event, another replica's delivery), keeps no provisional judgement,
as no adjudication will ever come. Jobs cancelled before it dropped theirs when cancelled.

Revision ID: validation_0032
Revises: validation_0031
Create Date: 2026-12-21 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0032"
down_revision = "validation_0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_rules", sa.Column("cancelled_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("job_rules", "cancelled_at")
