"""A cancelled task that an earlier release's requeue left behind is marked as made afresh
(`requeued_at`), so that a requeue now, which makes afresh every cancelled task not yet
marked, does not bring it back next to what replaced it.

An earlier release's requeue found a task given up on by its expiries reaching
BPO_INTAKE_MAX_ATTEMPTS as set then; once that was raised, it made an entry task instead and
left the review, adjudication or partial second keying cancelled and unmarked, a case
intake_0030 (which looks for a later task of the same kind) does not mark. Marked here: each
such task of an item that is not flagged (the sweep flags an item as it gives a task up, and
only a requeue, which marks the task, or the item's end clears the flag), and each of an item
given another task after it was last claimed (a requeue since, at the time that task was
made). A task given up on that still waits for a requeue has neither.

Revision ID: intake_0034
Revises: intake_0033
Create Date: 2026-12-22 09:00:00+00:00
"""

from alembic import op

revision = "intake_0034"
down_revision = "intake_0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE task t SET requeued_at = coalesce(
            (
                SELECT min(r.created_at) FROM task r
                WHERE r.item_id = t.item_id AND r.id <> t.id AND r.created_at > t.claimed_at
            ),
            now()
        )
        WHERE t.status = 'cancelled' AND t.requeued_at IS NULL
          AND (
            EXISTS (SELECT 1 FROM item i WHERE i.id = t.item_id AND i.flagged_reason IS NULL)
            OR EXISTS (
              SELECT 1 FROM task r
              WHERE r.item_id = t.item_id AND r.id <> t.id AND r.created_at > t.claimed_at
            )
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: no release was to make a task marked here afresh."""
