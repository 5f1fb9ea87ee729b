"""The names of documents kept with the entries of items erased before this release are
forgotten, as an erasure now forgets them: the entries of a job erased whole, and of the
items erased alone.

Revision ID: validation_0028
Revises: validation_0027
Create Date: 2026-12-17 09:00:00+00:00
"""

from alembic import op

revision = "validation_0028"
down_revision = "validation_0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE entry SET documents = '[]'::jsonb
        WHERE documents <> '[]'::jsonb
          AND EXISTS (
            SELECT 1 FROM erasure_record r
            WHERE r.job_id = entry.job_id
              AND (
                r.item_ids IS NULL
                OR entry.item_id::text IN (SELECT jsonb_array_elements_text(r.item_ids))
              )
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: a forgotten name does not come back."""
