"""The text and words read from the pages of documents already deleted are forgotten: the
retention pass deleted a document's bytes and page images but kept what its pages said, and
an erasure no longer forgets the pages of documents deleted before it.

Revision ID: intake_0025
Revises: intake_0024
Create Date: 2026-12-13 10:00:00+00:00
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = "intake_0025"
down_revision = "intake_0024"
branch_labels = None
depends_on = None

# Deleted documents taken a batch at a time by id, their pages forgotten, each batch committed
# on its own: a large store's are not rewritten in one transaction, nor scanned again a batch.
BATCH = 1_000
_NEXT = sa.text(
    "SELECT id FROM document WHERE deleted_at IS NOT NULL AND id > :after ORDER BY id LIMIT :n"
)
_FORGET = sa.text(
    "UPDATE document_page SET text = NULL, words = NULL"
    " WHERE document_id = ANY(:ids) AND (text IS NOT NULL OR words IS NOT NULL)"
)


def upgrade() -> None:
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        after = UUID(int=0)
        while ids := list(connection.execute(_NEXT, {"after": after, "n": BATCH}).scalars()):
            connection.execute(_FORGET, {"ids": ids})
            after = ids[-1]


def downgrade() -> None:
    """What was forgotten stays forgotten."""
