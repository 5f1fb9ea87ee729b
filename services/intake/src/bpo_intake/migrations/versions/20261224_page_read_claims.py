"""A reader claims the page it reads in the page's row (`read_claimed_until`), its attempt
counted, and commits that before Tesseract starts: no transaction stays open while a page is
read, and a read ended any way has counted (a claim was an advisory lock of a transaction held
open for the read: a server's idle_in_transaction_session_timeout ended it, the attempt was
never counted, and the page came first again at every pass, ahead of every other). A new
column without a default rewrites no table. For the release before, whose readers still run
during a rolling upgrade, a claim also takes that advisory lock in its short transaction and
is not made while such a reader holds it (`claim_page`).

Revision ID: intake_0036
Revises: intake_0035
Create Date: 2026-12-24 09:00:00+00:00
"""

from alembic import op

revision = "intake_0036"
down_revision = "intake_0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE document_page ADD COLUMN IF NOT EXISTS read_claimed_until timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE document_page DROP COLUMN read_claimed_until")
