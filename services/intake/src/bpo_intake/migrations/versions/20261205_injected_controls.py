"""Control items injected at claim: an item may be a copy of one of the client's control
items (`control_of`), found through the pool of control items per client; a keyer's entry
tasks are found by who submitted them, to tell a keyer new to a work type.

Revision ID: intake_0018
Revises: intake_0017
Create Date: 2026-12-05 16:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0018"
down_revision = "intake_0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item", sa.Column("control_of", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_item_control_pool",
        "item",
        ["client_id"],
        postgresql_where=sa.text("golden IS NOT NULL AND control_of IS NULL"),
    )
    op.create_index(
        "ix_item_control_of",
        "item",
        ["control_of"],
        postgresql_where=sa.text("control_of IS NOT NULL"),
    )
    op.create_index(
        "ix_task_keyer",
        "task",
        ["submitted_by"],
        postgresql_where=sa.text("kind = 'entry' AND submitted_by IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_keyer", table_name="task")
    op.drop_index("ix_item_control_of", table_name="item")
    op.drop_index("ix_item_control_pool", table_name="item")
    op.drop_column("item", "control_of")
