"""A renderer claims the document it draws in the document's row (`render_claimed_until`), its
attempt counted (`render_attempts`), and commits that before the drawing starts: no
transaction stays open, and no row is held, while a document is drawn (the renderer held the
document locked in a transaction open for the whole drawing, a minute and more for a long
scan: a server's idle_in_transaction_session_timeout ended it every time, the document came
first again at every pass and no document after it was rendered, and an erasure of its job
waited for the drawing, the job locked meanwhile). New columns, one with a constant default,
rewrite no table. The release before, running during a rolling upgrade, still holds the
document it draws locked, and a claim passes over the rows it holds; it is blind to a claim
committed before it looks, and may draw the same document at once, which is harmless: both
put the same images, and the renderer that finishes second stores nothing.

Revision ID: intake_0039
Revises: intake_0038
Create Date: 2026-12-27 09:00:00+00:00
"""

from alembic import op

revision = "intake_0039"
down_revision = "intake_0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE document ADD COLUMN IF NOT EXISTS render_attempts integer NOT NULL DEFAULT 0"
    )
    op.execute("ALTER TABLE document ADD COLUMN IF NOT EXISTS render_claimed_until timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE document DROP COLUMN render_claimed_until")
    op.execute("ALTER TABLE document DROP COLUMN render_attempts")
