"""Reads that went through the whole history get indexes of what they ask for.

Rows waiting for a price have an index of their own that holds only them: a client's usage
lines by completion (ix_usage_line_waiting), earnings by work type (ix_earning_waiting). A
new price book version, a put of piece rates and a draft's count of the usage still waiting
then read what waits: each read every usage line the client ever had, or every earning,
while holding the lock the consumer's writes of them wait for. A row leaves its index once
priced, so each is as small as the backlog, and a draft, which marks only priced lines, never
writes it.

The margin report reads the earnings of its period through ix_earning_client_id_earned_at:
one client's directly, every client's skipping from client to client (PostgreSQL 18's skip
scan), as it reads usage lines through ix_usage_line_client_id_completed_at. It read every
earning ever recorded, with or without a client.

Built concurrently (bpo_common.migrations.rebuild_index): writes go on meanwhile.

Revision ID: billing_0012
Revises: billing_0011
Create Date: 2026-12-19 09:00:00+00:00
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import rebuild_index

revision = "billing_0012"
down_revision = "billing_0011"
branch_labels = None
depends_on = None

WAITING = sa.text("amount IS NULL")
INDEXES: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    "ix_usage_line_waiting": (
        "usage_line", ["client_id", "completed_at", "id"], {"postgresql_where": WAITING}
    ),
    "ix_earning_waiting": ("earning", ["work_type", "id"], {"postgresql_where": WAITING}),
    "ix_earning_client_id_earned_at": ("earning", ["client_id", "earned_at"], {}),
}  # fmt: skip


def upgrade() -> None:
    for name, (table, columns, options) in INDEXES.items():
        rebuild_index(name, table, columns, **options)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
