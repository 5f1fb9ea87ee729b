"""Reference rows found by an identifier's key without its separators: a lookup of an IBAN
(keyed "DE89370400440532013000") found no row where the client's data wrote it
"DE89 3704 0044 0532 0130 00". The index holds each row's match key with spaces, dots,
slashes and hyphens taken out (domain.reference.compact_key, and the expression
repository.reference writes), built concurrently (bpo_common.migrations.rebuild_index).

Revision ID: validation_0027
Revises: validation_0026
Create Date: 2026-12-16 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import rebuild_index

revision = "validation_0027"
down_revision = "validation_0026"
branch_labels = None
depends_on = None

COMPACT_KEY = sa.text("regexp_replace(key, '[ ./-]+', '', 'g')")


def upgrade() -> None:
    rebuild_index("ix_reference_row_compact_key", "reference_row", ["dataset_id", COMPACT_KEY])


def downgrade() -> None:
    op.drop_index("ix_reference_row_compact_key", table_name="reference_row")
