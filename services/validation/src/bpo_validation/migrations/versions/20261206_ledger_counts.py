"""An adaptive job's ledger keeps no copies: its counts are its shares', its client and work
type the job's rules', and whether it met its target is worked out when asked.

Revision ID: validation_0019
Revises: validation_0018
Create Date: 2026-12-06 02:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0019"
down_revision = "validation_0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("items", "single", "client_id", "work_type", "met"):
        op.drop_column("job_accuracy", column)


def downgrade() -> None:
    op.add_column("job_accuracy", sa.Column("met", sa.Boolean(), nullable=True))
    op.add_column(
        "job_accuracy",
        sa.Column("work_type", sa.String(length=100), server_default="", nullable=False),
    )
    op.add_column(
        "job_accuracy",
        sa.Column(
            "client_id",
            sa.Uuid(),
            server_default="00000000-0000-0000-0000-000000000000",
            nullable=False,
        ),
    )
    op.add_column(
        "job_accuracy", sa.Column("single", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "job_accuracy", sa.Column("items", sa.Integer(), server_default="0", nullable=False)
    )
