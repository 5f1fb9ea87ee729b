"""Provisional judgements: keyings that differ, judged against each other until their item's
adjudication judges them, which adaptive QC reads meanwhile.

Revision ID: validation_0021
Revises: validation_0020
Create Date: 2026-12-08 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0021"
down_revision = "validation_0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisional_judgement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(100), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisional_judgement")),
    )
    op.create_index("ix_provisional_judgement_item_id", "provisional_judgement", ["item_id"])
    op.create_index(
        "ix_provisional_judgement_contractor_judged_at",
        "provisional_judgement",
        ["contractor_id", "judged_at"],
    )
    op.create_index(
        "ix_provisional_judgement_work_type_judged_at",
        "provisional_judgement",
        ["work_type", "judged_at"],
    )


def downgrade() -> None:
    op.drop_table("provisional_judgement")
