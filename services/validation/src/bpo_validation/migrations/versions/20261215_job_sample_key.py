"""Each job's review sample is keyed by a secret of the job's: the plain hash of an item's id,
which its keyer sees, told them whether a reviewer would see the item. Jobs already here are
given a key of 16 random bytes too (a sample is drawn once, when an item's keyings are
complete: items already sampled, or not, stay so).

Revision ID: validation_0026
Revises: validation_0025
Create Date: 2026-12-15 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0026"
down_revision = "validation_0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_rules", sa.Column("sample_key", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE job_rules SET sample_key = uuid_send(gen_random_uuid())")
    op.alter_column("job_rules", "sample_key", nullable=False)


def downgrade() -> None:
    op.drop_column("job_rules", "sample_key")
