"""Duplicate invoices are found by a hash of the vendor, not the vendor itself: an index
entry holds at most about 2,700 bytes, and a keyed vendor may be longer (up to 10,000
characters), which failed every submission of the invoice until it was dead-lettered. The
lookup compares the whole vendor besides.

Built concurrently under a name of its own before the old index goes.

Revision ID: validation_0025
Revises: validation_0024
Create Date: 2026-12-14 09:00:00+00:00
"""

import sqlalchemy as sa

from bpo_common.migrations import rebuild_index

revision = "validation_0025"
down_revision = "validation_0024"
branch_labels = None
depends_on = None

NAME = "ix_seen_invoice_vendor"


def upgrade() -> None:
    rebuild_index(NAME, "seen_invoice", ["client_id", sa.text("md5(vendor)")])


def downgrade() -> None:
    rebuild_index(NAME, "seen_invoice", ["client_id", "vendor"])
