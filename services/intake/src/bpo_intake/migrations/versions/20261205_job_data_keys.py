"""A job keeps its data key, wrapped by a key-encryption key: what seals its values.

Jobs made before have none; each gets one the first time it is needed.

Revision ID: intake_0013
Revises: intake_0012
Create Date: 2026-12-05 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0013"
down_revision = "intake_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job", sa.Column("data_key", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("job", "data_key")
