"""A deleted document's bytes and page images are deleted from the store once its deletion has
committed, and `swept_at` says when they were: those a failed sweep (the store away, the
process stopped) left are swept again. Documents deleted before went with their bytes: they
are marked swept as they were deleted, a batch at a time by id, each batch committed on its
own; the index of those to sweep is built after, without holding writes.

Revision ID: intake_0026
Revises: intake_0025
Create Date: 2026-12-15 09:00:00+00:00
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import rebuild_index

revision = "intake_0026"
down_revision = "intake_0025"
branch_labels = None
depends_on = None

BATCH = 1_000
_NEXT = sa.text(
    "SELECT id FROM document WHERE deleted_at IS NOT NULL AND swept_at IS NULL AND id > :after"
    " ORDER BY id LIMIT :n"
)
_SWEPT = sa.text("UPDATE document SET swept_at = deleted_at WHERE id = ANY(:ids)")
UNSWEPT = sa.text("deleted_at IS NOT NULL AND swept_at IS NULL")


def upgrade() -> None:
    # Each step can run again: a run stopped part way (the column added and committed, the
    # backfill or the index not done) leaves the revision where it was.
    op.execute("ALTER TABLE document ADD COLUMN IF NOT EXISTS swept_at timestamptz")
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        after = UUID(int=0)
        while ids := list(connection.execute(_NEXT, {"after": after, "n": BATCH}).scalars()):
            connection.execute(_SWEPT, {"ids": ids})
            after = ids[-1]
    rebuild_index("ix_document_unswept", "document", ["id"], postgresql_where=UNSWEPT)


def downgrade() -> None:
    op.drop_index("ix_document_unswept", table_name="document")
    op.drop_column("document", "swept_at")
