"""A keyer's judged fields by work type, in the order the quality floor reads them (newest
first, by instant then id), with the verdict: its window of a keyer's latest fields is then
read straight from the index. Without it the window read sorted every judged field of the
keyer, or walked the whole crew's fields on the work type newest first, at every decision
run: a cost that grew with history. It replaces the index on (contractor_id, judged_at),
whose every reader names the contractor.

The crew's index on (work_type, judged_at) now leaves the machine's fields out, as the
crew's reads do: a read of one keyer's fields cannot use it, so the planner can no longer
prefer walking the crew's fields to reading the keyer's.

Built concurrently, each new index before the old one goes: decisions go on meanwhile.

Revision ID: validation_0022
Revises: validation_0021
Create Date: 2026-12-11 09:00:00+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "validation_0022"
down_revision = "validation_0021"
branch_labels = None
depends_on = None

# The machine's contractor id (bpo_common.contracts.MACHINE_CONTRACTOR_ID), as it was.
CREW_FIELDS = sa.text("contractor_id <> '00000000-0000-7000-8000-00000000a11e'")
KEYER = "ix_judgement_keyer_window"
CREW = "ix_judgement_crew_window"
OLD_KEYER = "ix_judgement_contractor_judged_at"
OLD_CREW = "ix_judgement_work_type_judged_at"


def _invalid(index: str) -> bool:
    """Whether `index` exists but is not valid (its concurrent build was stopped)."""
    query = sa.text(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :index"
    )
    return bool(op.get_bind().execute(query, {"index": index}).scalar())


def _build(name: str, columns: Sequence[str], **options: Any) -> None:
    """Build `name` concurrently unless a valid one is there: a run stopped while building
    left an invalid one, built again; one stopped later keeps what it built."""
    if _invalid(name):
        op.execute(f"DROP INDEX CONCURRENTLY {name}")
    op.create_index(
        name, "judgement", list(columns), postgresql_concurrently=True, if_not_exists=True,
        **options,
    )  # fmt: skip


def upgrade() -> None:
    with op.get_context().autocommit_block():
        _build(KEYER, ["contractor_id", "work_type", "judged_at", "id"],
               postgresql_include=["correct"])  # fmt: skip
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_KEYER}")
        _build(CREW, ["work_type", "judged_at"], postgresql_where=CREW_FIELDS)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_CREW}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        _build(OLD_CREW, ["work_type", "judged_at"])
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {CREW}")
        _build(OLD_KEYER, ["contractor_id", "judged_at"])
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {KEYER}")
