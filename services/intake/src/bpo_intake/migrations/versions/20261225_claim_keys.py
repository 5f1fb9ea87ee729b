"""A claim's Idempotency-Key: what a contractor's claim sent with a key leased, kept by the
tasks' ids alone (the answer holds personal values opened, and no erasure would reach it), so
that the same claim sent again, its answer lost, is answered with the tasks still held rather
than lease more. A row is pending (`answered_at` null) until the claim's answer commits. A new
table: the release before, running during a rolling upgrade, never reads it.

Revision ID: intake_0037
Revises: intake_0036
Create Date: 2026-12-25 09:00:00+00:00
"""

from alembic import op

revision = "intake_0037"
down_revision = "intake_0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS claim_key (
            contractor_id uuid NOT NULL,
            key varchar(255) NOT NULL,
            request_hash varchar(64) NOT NULL,
            task_ids uuid[] NOT NULL,
            created_at timestamptz NOT NULL,
            answered_at timestamptz,
            CONSTRAINT pk_claim_key PRIMARY KEY (contractor_id, key)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE claim_key")
