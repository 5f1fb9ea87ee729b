"""Reference datasets for lookup rules; a reviewer's rejection on the entry."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0003"
down_revision = "validation_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_dataset",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("key_column", sa.String(length=100), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_dataset")),
        sa.UniqueConstraint("client_id", "name", name=op.f("uq_reference_dataset_client_id")),
    )
    op.create_table(
        "reference_row",
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("values", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["reference_dataset.id"],
            name=op.f("fk_reference_row_dataset_id_reference_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "key", name=op.f("pk_reference_row")),
    )
    op.add_column("entry", sa.Column("rejection", sa.Text(), nullable=True))
    op.create_index(op.f("ix_judgement_item_id"), "judgement", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_judgement_item_id"), table_name="judgement")
    op.drop_column("entry", "rejection")
    op.drop_table("reference_row")
    op.drop_table("reference_dataset")
