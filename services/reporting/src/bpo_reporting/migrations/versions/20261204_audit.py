"""The audit trail: who changed what through the API, append-only (a trigger refuses UPDATE,
DELETE and TRUNCATE).

Revision ID: reporting_0006
Revises: reporting_0005
Create Date: 2026-12-04 20:00:00+00:00
"""

from bpo_common.migrations import create_audit_table, drop_audit_table

revision = "reporting_0006"
down_revision = "reporting_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table()


def downgrade() -> None:
    drop_audit_table()
