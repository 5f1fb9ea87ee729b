"""Each job's review sample is keyed by a secret of the job's: the plain hash of an item's id,
which its keyer sees, told them whether a reviewer would see the item. The database draws it,
16 random bytes, for the jobs already here and for each job added, by this release or by a
replica of the one before during a rolling upgrade (a sample is drawn once, when an item's
keyings are complete: items already sampled, or not, stay so).

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
    random_key = sa.text("uuid_send(gen_random_uuid())")
    column = sa.Column("sample_key", sa.LargeBinary(), server_default=random_key, nullable=False)
    op.add_column("job_rules", column)


def downgrade() -> None:
    op.drop_column("job_rules", "sample_key")
