"""The relay claims unsent outbox rows by creation, then id (one transaction's rows share
their created_at): its index holds both, so that a claim reads no more of a large
transaction's rows than its batch.

Revision ID: intake_0029
Revises: intake_0028
Create Date: 2026-12-18 09:00:00+00:00
"""

from bpo_common.migrations import index_unsent_outbox

revision = "intake_0029"
down_revision = "intake_0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_unsent_outbox(["created_at", "id"])


def downgrade() -> None:
    index_unsent_outbox(["created_at"])
