"""The text and words read from the pages of documents already deleted are forgotten: the
retention pass deleted a document's bytes and page images but kept what its pages said, and
an erasure no longer forgets the pages of documents deleted before it.

Revision ID: intake_0025
Revises: intake_0024
Create Date: 2026-12-13 10:00:00+00:00
"""

from alembic import op

revision = "intake_0025"
down_revision = "intake_0024"
branch_labels = None
depends_on = None

# Pages forgotten a statement, each committed on its own: a large store's deleted documents
# are not rewritten in one transaction that holds the release back.
BATCH = 5_000
_FORGET = """
    UPDATE document_page SET text = NULL, words = NULL
    WHERE (document_id, number) IN (
        SELECT page.document_id, page.number FROM document_page AS page
        JOIN document ON document.id = page.document_id
        WHERE document.deleted_at IS NOT NULL
          AND (page.text IS NOT NULL OR page.words IS NOT NULL)
        LIMIT {batch}
    )
    """


def upgrade() -> None:
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        while connection.exec_driver_sql(_FORGET.format(batch=BATCH)).rowcount:
            pass


def downgrade() -> None:
    """What was forgotten stays forgotten."""
