"""Each contractor's running tally of judged fields on their standing (filled from judgement)."""

import sqlalchemy as sa
from alembic import op

revision = "validation_0004"
down_revision = "validation_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("standing", sa.Column("judged", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "standing", sa.Column("correct", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        """
        INSERT INTO standing (contractor_id, judged, correct)
        SELECT contractor_id, count(*), count(*) FILTER (WHERE correct)
        FROM judgement GROUP BY contractor_id
        ON CONFLICT (contractor_id)
        DO UPDATE SET judged = EXCLUDED.judged, correct = EXCLUDED.correct
        """
    )


def downgrade() -> None:
    op.drop_column("standing", "correct")
    op.drop_column("standing", "judged")
