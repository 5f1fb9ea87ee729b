"""A keyer's judged fields by work type carry the field's name too: adaptive QC reads each
keyer's latest judged fields by field (repository.accuracy), and now reads them from the
index alone, where it fetched every one of them from the table (5,000 rows scattered among
the crew's, 16 ms a first keying for a keyer with 100,000 judged fields; 2.5 ms from the
index). The quality floor's window read the index already served is served as before.

Built concurrently under a name of its own before the old index goes.

Revision ID: validation_0023
Revises: validation_0022
Create Date: 2026-12-12 09:00:00+00:00
"""

from bpo_common.migrations import rebuild_index

revision = "validation_0023"
down_revision = "validation_0022"
branch_labels = None
depends_on = None

NAME = "ix_judgement_keyer_window"
COLUMNS = ["contractor_id", "work_type", "judged_at", "id"]


def upgrade() -> None:
    rebuild_index(NAME, "judgement", COLUMNS, postgresql_include=["correct", "field"])


def downgrade() -> None:
    rebuild_index(NAME, "judgement", COLUMNS, postgresql_include=["correct"])
