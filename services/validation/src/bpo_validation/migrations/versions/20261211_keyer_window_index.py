"""A keyer's judged fields by work type, in the order the quality floor reads them (newest
first, by instant then id), with the verdict: its window of a keyer's latest fields is then
read straight from the index. Without it the window read sorted every judged field of the
keyer (or stepped over the whole crew's on the work type) at every decision run, a cost
that grew with history. Carrying the verdict also keeps the planner on this index once the
table's pages are all visible, where it could otherwise prefer the work type's index. It
replaces the index on (contractor_id, judged_at), whose every reader names the contractor.

Built concurrently, before the old index goes: decisions go on while it is built.

Revision ID: validation_0022
Revises: validation_0021
Create Date: 2026-12-11 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "validation_0022"
down_revision = "validation_0021"
branch_labels = None
depends_on = None

NEW = "ix_judgement_keyer_window"
OLD = "ix_judgement_contractor_judged_at"


def _invalid(index: str) -> bool:
    """Whether `index` exists but is not valid (its concurrent build was stopped)."""
    query = sa.text(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :index"
    )
    return bool(op.get_bind().execute(query, {"index": index}).scalar())


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A run stopped while building leaves an invalid index: build it again. One stopped
        # later keeps the index it built, the table never without one of the two.
        if _invalid(NEW):
            op.execute(f"DROP INDEX CONCURRENTLY {NEW}")
        op.create_index(
            NEW,
            "judgement",
            ["contractor_id", "work_type", "judged_at", "id"],
            postgresql_include=["correct"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD}")
        op.create_index(
            OLD, "judgement", ["contractor_id", "judged_at"], postgresql_concurrently=True
        )
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NEW}")
