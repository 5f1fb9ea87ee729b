"""Machine pre-fill: when a page's words were read, the layouts of each client's documents,
and each item's layout and suggestions.

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-04 20:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_0008"
down_revision = "intake_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("document_page", sa.Column("read_at", sa.DateTime(timezone=True)))
    # Pages read before this revision (a PDF's text layer, or none) count as read.
    op.execute("UPDATE document_page SET read_at = now()")
    op.create_index(
        "ix_document_page_unread",
        "document_page",
        ["document_id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "extraction_layout",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("tokens", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("learned", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("model", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_extraction_layout_client_id", "extraction_layout", ["client_id"])
    op.add_column("item", sa.Column("layout_id", sa.Uuid()))
    op.add_column("item", sa.Column("suggestions", postgresql.JSONB(astext_type=sa.Text())))
    op.add_column("item", sa.Column("extracted_at", sa.DateTime(timezone=True)))
    op.add_column(
        "item",
        sa.Column("learn_pending", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "ix_item_unextracted",
        "item",
        ["id"],
        postgresql_where=sa.text("extracted_at IS NULL AND documents <> '{}'"),
    )
    op.create_index(
        "ix_item_learn_pending", "item", ["id"], postgresql_where=sa.text("learn_pending")
    )


def downgrade() -> None:
    op.drop_index("ix_item_learn_pending", table_name="item")
    op.drop_index("ix_item_unextracted", table_name="item")
    for column in ("learn_pending", "extracted_at", "suggestions", "layout_id"):
        op.drop_column("item", column)
    op.drop_index("ix_extraction_layout_client_id", table_name="extraction_layout")
    op.drop_table("extraction_layout")
    op.drop_index("ix_document_page_unread", table_name="document_page")
    op.drop_column("document_page", "read_at")
