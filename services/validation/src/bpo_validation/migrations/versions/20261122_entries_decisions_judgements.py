"""Entries, decisions, field judgements and contractor standing; job rules.

Revision ID: validation_0002
Revises: validation_0001
Create Date: 2026-11-22 12:41:11.073135+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "validation_0002"
down_revision = "validation_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("accepted", "review", "rejected", "rekey", name="outcome"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("comparison", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    op.create_index(op.f("ix_decision_item_id"), "decision", ["item_id"], unique=False)
    op.create_table(
        "entry",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("golden", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("client_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("entries_expected", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_entry")),
    )
    op.create_index(op.f("ix_entry_item_id"), "entry", ["item_id"], unique=False)
    op.create_table(
        "judgement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("work_type", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("golden", sa.Boolean(), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgement")),
    )
    op.create_index(
        "ix_judgement_contractor_judged_at",
        "judgement",
        ["contractor_id", "judged_at"],
        unique=False,
    )
    op.create_table(
        "standing",
        sa.Column("contractor_id", sa.Uuid(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("contractor_id", name=op.f("pk_standing")),
    )
    op.add_column(
        "job_rules",
        sa.Column(
            "rules",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.alter_column("job_rules", "rules", server_default=None)


def downgrade() -> None:
    op.drop_column("job_rules", "rules")
    op.drop_table("standing")
    op.drop_index("ix_judgement_contractor_judged_at", table_name="judgement")
    op.drop_table("judgement")
    op.drop_index(op.f("ix_entry_item_id"), table_name="entry")
    op.drop_table("entry")
    op.drop_index(op.f("ix_decision_item_id"), table_name="decision")
    op.drop_table("decision")
    op.execute("DROP TYPE outcome")
