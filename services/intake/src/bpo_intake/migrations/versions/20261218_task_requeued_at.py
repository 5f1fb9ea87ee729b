"""A task given up on (its lease kept expiring) says when a requeue made it afresh
(`requeued_at`), so that a requeue makes each such task once. Those an earlier release's
requeue made afresh are marked by the task of their kind it made for their item after they
were last claimed.

Revision ID: intake_0030
Revises: intake_0029
Create Date: 2026-12-18 11:00:00+00:00
"""

from alembic import op

revision = "intake_0030"
down_revision = "intake_0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task ADD COLUMN IF NOT EXISTS requeued_at timestamptz")
    # The column committed first: the marking scans the table holding row locks only (claims
    # go on); it can run again.
    with op.get_context().autocommit_block():
        op.execute(_MARK)


_MARK = """
        UPDATE task t SET requeued_at = (
            SELECT min(r.created_at) FROM task r
            WHERE r.item_id = t.item_id AND r.kind = t.kind AND r.id <> t.id
              AND r.created_at > t.claimed_at
        )
        WHERE t.status = 'cancelled' AND t.requeued_at IS NULL AND t.claimed_at IS NOT NULL
          AND EXISTS (
            SELECT 1 FROM task r
            WHERE r.item_id = t.item_id AND r.kind = t.kind AND r.id <> t.id
              AND r.created_at > t.claimed_at
          )
        """


def downgrade() -> None:
    op.execute("ALTER TABLE task DROP COLUMN requeued_at")
