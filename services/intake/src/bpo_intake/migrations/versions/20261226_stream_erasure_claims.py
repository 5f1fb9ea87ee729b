"""A pass of the stream erasure claims the erasures it empties the stream of in their rows
(`stream_claimed_until`), committed before it reads the stream, and renews the claim while it
reads: no transaction stays open for the read, which takes minutes to hours on a stream of
production size (the erasures were held `FOR UPDATE` in one transaction for the whole read: a
server's idle_in_transaction_session_timeout ended it, so `stream_erased_at` was never set,
and without one its xid held back vacuum across the database). A new column without a default
rewrites no table. The release before, running during a rolling upgrade, still holds its
erasures locked for its read, and a claim passes over the rows it holds; it is blind to a
claim committed before it looks, and may empty the same events at once, which is harmless:
the copies share their `Nats-Msg-Id`, and a pass whose delete finds the event gone fails and
is run again.

Revision ID: intake_0038
Revises: intake_0037
Create Date: 2026-12-26 09:00:00+00:00
"""

from alembic import op

revision = "intake_0038"
down_revision = "intake_0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE erasure ADD COLUMN IF NOT EXISTS stream_claimed_until timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE erasure DROP COLUMN stream_claimed_until")
