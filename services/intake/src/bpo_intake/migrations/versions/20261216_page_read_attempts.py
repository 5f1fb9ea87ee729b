"""A page's OCR reads that ran out of time or were killed: it is read again a few times before
it is taken as having no words (a timeout counted as the page's own fault at once, and one it
killed Tesseract on for memory was read again on every pass, ahead of every page after it).
A new column with a constant default rewrites no table.

Revision ID: intake_0027
Revises: intake_0026
Create Date: 2026-12-16 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0027"
down_revision = "intake_0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "document_page",
        sa.Column("read_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("document_page", "read_attempts")
