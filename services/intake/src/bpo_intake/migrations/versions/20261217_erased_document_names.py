"""The names of documents an erasure deleted before this release are forgotten as an erasure
now forgets them: each becomes its document's id. The documents of a job erased whole, and
those an item erasure deleted (of the erased items, kept by none of the job's other items);
a document another of the job's is named after keeps its name (a unique name per job).

Revision ID: intake_0028
Revises: intake_0027
Create Date: 2026-12-17 09:00:00+00:00
"""

from alembic import op

revision = "intake_0028"
down_revision = "intake_0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        WITH erased_items AS (
            SELECT e.job_id, x.item_id::uuid AS item_id
            FROM erasure e, jsonb_array_elements_text(e.item_ids) AS x(item_id)
        )
        UPDATE document d SET filename = d.id::text
        WHERE d.deleted_at IS NOT NULL
          AND d.filename <> d.id::text
          AND NOT EXISTS (
            SELECT 1 FROM document o WHERE o.job_id = d.job_id AND o.filename = d.id::text
          )
          AND (
            EXISTS (SELECT 1 FROM erasure e WHERE e.job_id = d.job_id AND e.item_ids IS NULL)
            OR (
              EXISTS (
                SELECT 1 FROM erased_items g JOIN item i ON i.id = g.item_id
                WHERE g.job_id = d.job_id AND d.id = ANY (i.documents)
              )
              AND NOT EXISTS (
                SELECT 1 FROM item k
                WHERE k.job_id = d.job_id AND d.id = ANY (k.documents)
                  AND NOT EXISTS (
                    SELECT 1 FROM erased_items g WHERE g.job_id = k.job_id AND g.item_id = k.id
                  )
              )
            )
          )
        """
    )


def downgrade() -> None:
    """Nothing to undo: a forgotten name does not come back."""
