"""Time on task per contractor and hour: tasks whose active time was measured, that time,
and the fields those tasks held.

Revision ID: reporting_0005
Revises: reporting_0004
Create Date: 2026-12-04 18:30:00.000000+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0005"
down_revision = "reporting_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    zero = sa.text("0")
    op.add_column(
        "contractor_rollup",
        sa.Column("timed_tasks", sa.Integer(), server_default=zero, nullable=False),
    )
    op.add_column(
        "contractor_rollup",
        sa.Column("active_seconds", sa.Double(), server_default=zero, nullable=False),
    )
    op.add_column(
        "contractor_rollup",
        sa.Column("fields_keyed", sa.Integer(), server_default=zero, nullable=False),
    )


def downgrade() -> None:
    for column in ("fields_keyed", "active_seconds", "timed_tasks"):
        op.drop_column("contractor_rollup", column)
