"""Rows waiting for a price have an index of their own that holds only them: a client's usage
lines by completion (ix_usage_line_waiting), earnings by work type (ix_earning_waiting). A
new price book version, a put of piece rates and a draft's count of the usage still waiting
then read what waits, not the whole history: each read every usage line the client ever had,
or every earning, while holding the lock the consumer's writes of them wait for. A row
leaves its index once priced, so each is as small as the backlog, and a draft, which marks
only priced lines, never writes it.

Built concurrently (bpo_common.migrations.rebuild_index): writes go on meanwhile.

Revision ID: billing_0012
Revises: billing_0011
Create Date: 2026-12-19 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from bpo_common.migrations import rebuild_index

revision = "billing_0012"
down_revision = "billing_0011"
branch_labels = None
depends_on = None

WAITING = sa.text("amount IS NULL")
INDEXES = {
    "ix_usage_line_waiting": ("usage_line", ["client_id", "completed_at", "id"]),
    "ix_earning_waiting": ("earning", ["work_type", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        rebuild_index(name, table, columns, postgresql_where=WAITING)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
