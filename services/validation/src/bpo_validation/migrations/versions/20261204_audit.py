"""The audit trail: who changed what through the API, append-only (a trigger refuses UPDATE,
DELETE and TRUNCATE).

Revision ID: validation_0011
Revises: validation_0010
Create Date: 2026-12-04 20:00:00+00:00
"""

from bpo_common.migrations import create_audit_table, drop_audit_table

revision = "validation_0011"
down_revision = "validation_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table()


def downgrade() -> None:
    drop_audit_table()
