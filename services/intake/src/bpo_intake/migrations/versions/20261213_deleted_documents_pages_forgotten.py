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


def upgrade() -> None:
    op.execute(
        "UPDATE document_page SET text = NULL, words = NULL"
        " FROM document WHERE document.id = document_page.document_id"
        " AND document.deleted_at IS NOT NULL"
        " AND (document_page.text IS NOT NULL OR document_page.words IS NOT NULL)"
    )


def downgrade() -> None:
    """What was forgotten stays forgotten."""
